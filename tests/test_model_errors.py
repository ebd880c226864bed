"""Every mistake in a model file: one line `path:line:col: what; how to fix`, exit code 1, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

MODEL = """\
models:
  - name: sessions_by_tenant
    source: state_changes
    filter: entity_type = 'session_phase'
    window:
      type: tumbling
      size: 15 minutes
    group_by: [tenant_id]
    metrics:
      - name: total_sessions
        kind: count_distinct
        column: entity_id
      - name: rate
        kind: expression
        type: DOUBLE
        sql: "{{ completion_rate() }}"
    sink:
      table: polaris.test.sessions_by_tenant
"""


def write_model(project: Path, text: str, name: str = "test_model.yml") -> str:
    (project / "models" / name).write_text(text)
    return f"models/{name}"


def compile_errors(project: Path) -> tuple[int, list[str]]:
    result = run_cli(project, "compile", "-q")
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert "Traceback" not in result.output
    return result.exit_code, [line[len("Error: "):] for line in lines]


def position(text: str, needle: str, occurrence: int = 1) -> str:
    offset = -1
    for _ in range(occurrence):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"


def test_base_model_compiles(project: Path) -> None:
    write_model(project, MODEL)
    assert compile_errors(project) == (0, [])


CASES = {
    # name: (replace this, with this, expected message, text the location points at)
    "yaml_syntax": ("    source: state_changes\n", "    source: [state_changes\n", "invalid YAML", None),
    "unknown_key": ("        column: entity_id\n", "        column: entity_id\n        shade: red\n",
                    "unknown key 'shade'; allowed keys: name, kind, description, column", "shade"),
    "unknown_source": ("source: state_changes", "source: state_change", "unknown source 'state_change'; did you mean 'state_changes'?", "state_change"),
    "unknown_filter_column": ("filter: entity_type = 'session_phase'", "filter: entity_typ = 'session_phase'",
                              "unknown column 'entity_typ' in filter; did you mean 'entity_type'?", "entity_typ"),
    "unknown_metric_column": ("column: entity_id", "column: entity_idd", "unknown column 'entity_idd'; did you mean 'entity_id'?", "entity_idd"),
    "unknown_metric_kind": ("kind: count_distinct", "kind: count_distinctt",
                            "unknown metric kind 'count_distinctt'; did you mean 'count_distinct'?", "count_distinctt"),
    "bad_interval": ("size: 15 minutes", "size: 15 minuts", "bad interval; '15 minuts' is not an interval", "15 minuts"),
    "undefined_macro": ("{{ completion_rate() }}", "{{ completion_rat() }}",
                        "undefined macro or variable 'completion_rat' (model 'sessions_by_tenant', metric 'rate')", "completion_rat"),
    "sql_syntax": ("filter: entity_type = 'session_phase'", "filter: entity_type = = 'session_phase'",
                   "SQL syntax error in filter", "= 'session_phase'"),
    "bad_window_param": ("      size: 15 minutes\n", "      size: 15 minutes\n      gap: 1 minute\n",
                         "'gap' does not apply to a tumbling window; tumbling windows take: offset, size", "gap"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_model(project: Path, case: str) -> None:
    old, new, message, points_at = CASES[case]
    assert old in MODEL
    text = MODEL.replace(old, new, 1)
    shown = write_model(project, text)
    code, errors = compile_errors(project)
    assert code == 1
    assert len(errors) == 1, errors
    assert message in errors[0]
    if points_at is not None:
        assert errors[0].startswith(f"{shown}:{position(text, points_at)}: "), errors[0]
    else:
        assert errors[0].startswith(f"{shown}:4:"), errors[0]  # the unclosed [ is reported where YAML noticed it


def test_undefined_variable_inside_macro_names_macro_model_and_line(project: Path) -> None:
    (project / "macros" / "broken.sql").write_text("{% macro broken_rate() %}\nCAST({{ numerator }} AS DOUBLE)\n{% endmacro %}\n")
    text = MODEL.replace("{{ completion_rate() }}", "{{ broken_rate() }}")
    write_model(project, text)
    code, errors = compile_errors(project)
    assert code == 1
    assert errors == ["macros/broken.sql:2:1: undefined variable 'numerator' in macro 'broken_rate' "
                      "(model 'sessions_by_tenant', metric 'rate'); pass it as a macro argument or fix the spelling"]


def test_duplicate_model_name(project: Path) -> None:
    write_model(project, MODEL)
    other = MODEL.replace("polaris.test.sessions_by_tenant", "polaris.test.other")
    shown = write_model(project, other, "z_other.yml")
    code, errors = compile_errors(project)
    assert code == 1
    assert errors == [f"{shown}:{position(other, 'sessions_by_tenant')}: model 'sessions_by_tenant' is defined twice "
                      "(also in models/test_model.yml); model names must be unique; rename one"]


def test_sink_table_collision(project: Path) -> None:
    write_model(project, MODEL)
    other = MODEL.replace("name: sessions_by_tenant", "name: other_model")
    shown = write_model(project, other, "z_other.yml")
    code, errors = compile_errors(project)
    assert code == 1
    assert errors == [f"{shown}:{position(other, 'polaris.test.sessions_by_tenant')}: sink table "
                      "'polaris.test.sessions_by_tenant' is already written by model 'sessions_by_tenant'; "
                      "two jobs must not write one table; pick another sink table"]


def test_all_errors_of_a_load_are_reported_together(project: Path) -> None:
    text = (MODEL.replace("filter: entity_type", "filter: entity_typ")
            .replace("kind: count_distinct", "kind: count_distinctt")
            .replace("size: 15 minutes", "size: fifteen"))
    write_model(project, text)
    code, errors = compile_errors(project)
    assert code == 1
    assert len(errors) == 3, errors
    lines = [int(e.split(":")[1]) for e in errors]
    assert lines == sorted(lines) == [4, 7, 11]  # filter, window size, metric kind: in file order


def test_nothing_is_written_when_a_model_is_bad(project: Path) -> None:
    write_model(project, MODEL.replace("kind: count_distinct", "kind: nope"))
    code, _ = compile_errors(project)
    assert code == 1
    assert not (project / "target").exists()


def test_unknown_target_lists_valid_ones(project: Path) -> None:
    result = run_cli(project, "compile", "--target", "staging")
    assert result.exit_code == 1
    assert "unknown target 'staging'; valid targets: embedded, prod, stack" in result.stderr


def test_cli_process_exit_code_and_no_traceback(project: Path) -> None:
    """The real process, as CI runs it: exit status 1 and one-line errors on stderr."""
    write_model(project, MODEL.replace("source: state_changes", "source: nowhere"))
    proc = subprocess.run([sys.executable, str(ROOT / "compile.py"), "--project-dir", str(project), "compile"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "models/test_model.yml:3:13: unknown source 'nowhere'" in proc.stderr
    debug = subprocess.run([sys.executable, str(ROOT / "compile.py"), "--debug", "--project-dir", str(project), "compile"],
                           capture_output=True, text=True, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_errors_after_a_broken_model_keep_their_positions(project: Path) -> None:
    broken = MODEL.replace("    source: state_changes\n", "    source: state_changes\n    colour: red\n")
    second = MODEL.replace("models:\n", "").replace("sessions_by_tenant", "second").replace("entity_id", "entity_idd")
    text = broken + second
    shown = write_model(project, text)
    code, errors = compile_errors(project)
    assert code == 1
    assert errors[0].startswith(f"{shown}:{position(text, 'colour')}: unknown key 'colour'")
    assert errors[1].startswith(f"{shown}:{position(text, 'entity_idd')}: unknown column 'entity_idd'")


def test_sink_catalog_must_be_the_targets(project: Path) -> None:
    text = MODEL.replace("polaris.test.sessions_by_tenant", "lakehouse.test.sessions_by_tenant")
    shown = write_model(project, text)
    code, errors = compile_errors(project)
    assert code == 1
    assert errors == [f"{shown}:{position(text, 'lakehouse.test')}: model 'sessions_by_tenant' writes to catalog "
                      "'lakehouse', but the target's catalog is 'polaris'; use sink table polaris.<database>.<table> "
                      "or rename the catalog in profiles.yml"]


def test_late_events_catalog_must_be_the_targets(project: Path) -> None:
    text = MODEL + "    late_events:\n      table: lakehouse.test.sessions_late\n"
    shown = write_model(project, text)
    code, errors = compile_errors(project)
    assert code == 1
    assert errors == [f"{shown}:{position(text, 'lakehouse.test')}: model 'sessions_by_tenant' "
                      "writes late events to catalog 'lakehouse', but the target's catalog is 'polaris'; use "
                      "late_events table polaris.<database>.<table> or rename the catalog in profiles.yml"]


def test_missing_environment_variable_in_profiles(project: Path, monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    profiles = project / "profiles.yml"
    text = profiles.read_text().replace("{{ env_var('ICEBERG_JDBC_PASSWORD', 'streammetrics') }}", "{{ env_var('NO_SUCH_SECRET') }}", 1)
    profiles.write_text(text)
    code, errors = compile_errors(project)
    assert code == 1
    assert errors == [f"profiles.yml:{position(text, '{{ env_var(' + chr(39) + 'NO_SUCH_SECRET')}: environment variable "
                      "NO_SUCH_SECRET is not set; export it, or give env_var('NO_SUCH_SECRET', 'default')"]


def test_late_events_table_errors(project: Path) -> None:
    session = MODEL.replace("type: tumbling\n      size: 15 minutes", "type: session\n      gap: 10 minutes")
    text = session + "    late_events:\n      table: polaris.test.sessions_by_tenant\n"
    path = write_model(project, text)
    code, errors = compile_errors(project)
    assert code == 1
    assert errors == [
        f"{path}:{position(text, 'late_events')}: late_events is not supported for session windows (a merging "
        "window has no fixed end to compare with the watermark); remove late_events, or use a tumbling, hopping "
        "or cumulating window",
        f"{path}:{position(text, 'polaris.test.sessions_by_tenant', 2)}: late-events table "
        "'polaris.test.sessions_by_tenant' is already written by model 'sessions_by_tenant'; "
        "give the late events a table of their own",
    ]


def test_late_events_table_compiles_into_one_statement_set(project: Path) -> None:
    text = MODEL + "    late_events:\n      table: polaris.test.sessions_late\n"
    write_model(project, text)
    assert compile_errors(project) == (0, [])
    script = (project / "target" / "sessions_by_tenant.flink.sql").read_text()
    assert "CREATE TABLE IF NOT EXISTS polaris.test.sessions_late (" in script
    assert script.index("EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO polaris.test.sessions_by_tenant") > 0
    assert script.rstrip().endswith("END;")
