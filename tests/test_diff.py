"""`diff` between git revisions: classification, sink schema changes, markdown, exit codes.

One temporary git repository per session: a base commit (the repository's project plus two small
models) and one head commit per kind of change, each made on top of the base.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streammetrics.diff import (COMPATIBLE, EXIT_ERROR, EXIT_NEEDS_ACK, EXIT_OK, INCOMPATIBLE, JOB_REMOVED, METADATA,
                                NEW_JOB, NO_CHANGE, PARTIAL, DiffReport, ModelDiff, SinkChange, run_diff, type_change)
from streammetrics.diffrender import MARKER, MAX_COMMENT_CHARS, MAX_DETAILED, render_markdown

ROOT = Path(__file__).resolve().parent.parent
TABLE_HEADER = "| model | change | sink schema | state effect | deploy action |"

TENANT_HOURLY = """\
models:
  - name: tenant_hourly
    description: Hourly transitions and completion rate per tenant
    source: state_changes
    consumer_group: flink-tenant-hourly
    window: {type: tumbling, size: 1 hour}
    group_by: [tenant_id]
    metrics:
      - {name: events, kind: count}
      - name: completion_rate
        kind: expression
        type: DOUBLE
        sql: "{{ completion_rate() }}"
    sink:
      table: polaris.matih_analytics.tenant_hourly
"""

TRANSITIONS = """\
models:
  - name: transitions
    source: state_changes
    consumer_group: flink-transitions
    window: {type: hopping, size: 10 minutes, slide: 5 minutes}
    group_by: [tenant_id, to_state]
    metrics:
      - {name: transitions, kind: count}
      - {name: max_turns, kind: max, column: metadata, json_path: $.turn_count, type: INT}
    sink:
      table: polaris.matih_analytics.transitions
      partition_by: [tenant_id]
"""

NEW_MODEL = """\
models:
  - name: agent_activity
    source: state_changes
    consumer_group: flink-agent-activity
    window: {type: tumbling, size: 5 minutes}
    group_by: [tenant_id]
    metrics:
      - {name: agents, kind: count_distinct, column: metadata, json_path: $.agent_id}
    sink:
      table: polaris.matih_analytics.agent_activity
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com",
                           "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


# Each scenario edits the base checkout; the fixture commits it and resets to the base.
def reformat(repo: Path) -> None:
    """Same content: keys reordered and sorted, other indentation and quoting, a comment."""
    for name in ("session_analytics.yml", "sources.yml"):
        path = repo / "models" / name
        data = yaml.safe_load(path.read_text())
        path.write_text("# reformatted: keys sorted, 4-space indentation\n"
                        + yaml.safe_dump(data, sort_keys=True, indent=4, default_style=None, width=200))
    edit(repo / "models/tenant_hourly.yml", "window: {type: tumbling, size: 1 hour}",
         "window:\n      size: '1 hour'   # one hour\n      type: \"tumbling\"")


def descriptions(repo: Path) -> None:
    path = repo / "models/session_analytics.yml"
    edit(path, "description: Session counts, duration, completion rates and user activity per tenant",
         "description: Sessions, durations, completion rates and active users per tenant")
    edit(path, "description: Average conversation turns", "description: Mean number of turns per conversation")
    edit(repo / "models/sources.yml", "description: Previous state}", "description: State before the transition}")


def macro_whitespace(repo: Path) -> None:
    edit(repo / "macros/metrics.sql", "CAST({{ numerator }} AS DOUBLE) / GREATEST({{ denominator }}, 1)",
         "CAST( {{ numerator }}   AS DOUBLE )\n  /  GREATEST(\n    {{ denominator }},\n    1\n  )")


def macro_logic(repo: Path) -> None:
    edit(repo / "macros/metrics.sql", "GREATEST({{ denominator }}, 1)", "NULLIF({{ denominator }}, 0)")


def job_setting(repo: Path) -> None:
    path = repo / "models/session_analytics.yml"
    edit(path, "    sink:\n", "    checkpoint_interval: 30 seconds\n    sink:\n")
    edit(path, 'write.target-file-size-bytes: "134217728"', 'write.target-file-size-bytes: "268435456"')


def new_metric(repo: Path) -> None:
    edit(repo / "models/session_analytics.yml", "    sink:\n",
         "      - name: completions\n        kind: count\n        where: to_state = 'completed'\n    sink:\n")


def renamed_metric(repo: Path) -> None:
    edit(repo / "models/session_analytics.yml", "name: avg_turns", "name: avg_turn_count")


def renamed_metric_acknowledged(repo: Path) -> None:
    renamed_metric(repo)
    edit(repo / "models/session_analytics.yml", "    sink:\n", "    accept_state_reset: true\n    sink:\n")


def window_size(repo: Path) -> None:
    edit(repo / "models/session_analytics.yml", "size: 15 minutes", "size: 30 minutes")


def widened(repo: Path) -> None:
    edit(repo / "models/transitions.yml", "type: INT}", "type: BIGINT}")


def narrowed(repo: Path) -> None:
    edit(repo / "models/transitions.yml", "type: INT}", "type: SMALLINT}")


def partitioning(repo: Path) -> None:
    edit(repo / "models/transitions.yml", "partition_by: [tenant_id]", "partition_by: [to_state]")


def new_model(repo: Path) -> None:
    (repo / "models/agent_activity.yml").write_text(NEW_MODEL)


def removed_model(repo: Path) -> None:
    (repo / "models/transitions.yml").unlink()


def broken(repo: Path) -> None:
    edit(repo / "models/transitions.yml", "kind: max,", "kind: maximum,")


SCENARIOS = [reformat, descriptions, macro_whitespace, macro_logic, job_setting, new_metric, renamed_metric,
             renamed_metric_acknowledged, window_size, widened, narrowed, partitioning, new_model, removed_model, broken]


@pytest.fixture(scope="session")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(repository, {"base": sha, <scenario>: sha}); the checkout is left at the base commit."""
    repo = tmp_path_factory.mktemp("diffrepo")
    for name in ("models", "macros"):
        shutil.copytree(ROOT / name, repo / name)
    shutil.copy(ROOT / "profiles.yml", repo / "profiles.yml")
    (repo / "models/tenant_hourly.yml").write_text(TENANT_HOURLY)
    (repo / "models/transitions.yml").write_text(TRANSITIONS)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    shas = {"base": git(repo, "rev-parse", "HEAD")}
    for scenario in SCENARIOS:
        scenario(repo)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", scenario.__name__)
        shas[scenario.__name__] = git(repo, "rev-parse", "HEAD")
        git(repo, "tag", scenario.__name__)  # for a look by hand: git -C <repo> show <scenario>
        git(repo, "reset", "-q", "--hard", shas["base"])
    return repo, shas


def diff(repo, scenario: str, fmt: str = "text", base: str = "base"):
    path, shas = repo
    outcome = run_diff(path, shas[base], shas[scenario], fmt)
    return outcome, {m.name: m for m in outcome.report.models}


def test_pure_reformat_is_no_change(repo):
    outcome, models = diff(repo, "reformat")
    assert {m.effect for m in models.values()} == {NO_CHANGE}
    assert outcome.report.changed == ()
    assert outcome.exit_code == EXIT_OK
    assert "No model changed." in run_diff(repo[0], repo[1]["base"], repo[1]["reformat"], "markdown").text


def test_description_change_is_metadata_only(repo):
    outcome, models = diff(repo, "descriptions")
    sa = models["session_analytics"]
    assert (sa.change, sa.effect, sa.deploy_action) == ("changed", METADATA, "no-op")
    assert any("description of metric avg_turns" in r for r in sa.reasons)
    assert "COMMENT 'State before the transition'" in sa.flink_diff  # the column comment, in the DDL
    assert "--" not in sa.flink_diff.replace("--- base/", "")  # SQL comments never show
    # The source column's description reaches every model that reads the source, as metadata.
    assert models["transitions"].effect == METADATA
    assert outcome.exit_code == EXIT_OK


def test_macro_whitespace_is_no_change(repo):
    outcome, models = diff(repo, "macro_whitespace")
    assert {m.effect for m in models.values()} == {NO_CHANGE}
    assert outcome.report.macros_edited == ("safe_ratio",)
    assert outcome.exit_code == EXIT_OK


def test_macro_logic_change_shows_in_every_model_using_it(repo):
    outcome, models = diff(repo, "macro_logic", "markdown")
    # completion_rate divides by COUNT(DISTINCT ...): a changed distinct aggregate, incompatible.
    for name in ("session_analytics", "tenant_hourly"):
        m = models[name]
        assert m.effect == INCOMPATIBLE and m.attention
        assert any(r.startswith("aggregate completion_rate changed") for r in m.reasons)
        assert "-    CAST(SUM(" in m.flink_diff and "NULLIF(COUNT(DISTINCT entity_id), 0)" in m.flink_diff
        assert "NULLIF" in m.trino_diff
        assert m.sink_changes == ()
    assert models["transitions"].effect == NO_CHANGE
    assert outcome.exit_code == EXIT_NEEDS_ACK
    assert TABLE_HEADER in outcome.text
    assert "<details><summary><code>session_analytics</code>" in outcome.text
    assert "<details><summary><code>transitions</code>" not in outcome.text


def test_job_setting_and_sink_property_are_state_compatible(repo):
    outcome, models = diff(repo, "job_setting")
    sa = models["session_analytics"]
    assert sa.effect == COMPATIBLE and sa.deploy_action == "upgrade from savepoint"
    assert "setting execution.checkpointing.interval: '60 s' → '30 s'" in sa.reasons
    assert sa.sink_changes == (SinkChange("properties_changed", "write.target-file-size-bytes", "134217728",
                                          "268435456", False),)
    assert outcome.exit_code == EXIT_OK


def test_new_metric_is_partially_compatible(repo):
    outcome, models = diff(repo, "new_metric", "markdown")
    sa = models["session_analytics"]
    assert sa.effect == PARTIAL and not sa.needs_ack
    assert sa.sink_changes == (SinkChange("column_added", "completions", None, "BIGINT NOT NULL", False),)
    assert "windows open at the restart (window_end > deploy time) start completions from zero" in sa.cutoff
    assert "deploy time + 15 min + 30 s" in sa.cutoff
    assert sa.deploy_action == "upgrade from savepoint (new metric partial until deploy + 15 min 30 s)"
    assert "+    COUNT(*) FILTER (WHERE\n+      to_state = 'completed') AS completions" in sa.flink_diff
    assert not any("description" in r for r in sa.reasons)
    assert outcome.exit_code == EXIT_OK
    row = next(line for line in outcome.text.splitlines() if line.startswith("| `session_analytics`"))
    assert "column added" in row and "**partially compatible**" in row


def test_renamed_metric_is_destructive(repo):
    outcome, models = diff(repo, "renamed_metric", "markdown")
    sa = models["session_analytics"]
    assert sa.sink_changes == (SinkChange("column_renamed", "avg_turn_count", "avg_turns", "avg_turn_count", True),)
    assert sa.effect == PARTIAL  # a non-distinct aggregate under a new name starts from zero
    assert sa.needs_ack and sa.attention and not sa.acknowledged
    assert "needs accept_state_reset: true" in sa.deploy_action
    assert outcome.exit_code == EXIT_NEEDS_ACK
    assert outcome.text.startswith(MARKER)
    assert ":x:" in outcome.text and "column renamed (destructive)" in outcome.text


def test_acknowledged_reset_exits_zero(repo):
    outcome, models = diff(repo, "renamed_metric_acknowledged")
    sa = models["session_analytics"]
    assert sa.needs_ack and sa.acknowledged and not sa.attention
    assert "reset accepted" in sa.deploy_action
    assert outcome.exit_code == EXIT_OK


def test_window_size_is_incompatible(repo):
    outcome, models = diff(repo, "window_size", "json")
    sa = models["session_analytics"]
    assert sa.effect == INCOMPATIBLE
    assert "window changed: tumbling size 15 min → tumbling size 30 min" in sa.reasons
    assert sa.deploy_action == "restart from empty state (needs accept_state_reset: true)"
    assert outcome.exit_code == EXIT_NEEDS_ACK
    data = json.loads(outcome.text)
    assert data["exit_code"] == EXIT_NEEDS_ACK and data["summary"]["needs_attention"] == ["session_analytics"]
    entry = next(m for m in data["models"] if m["name"] == "session_analytics")
    assert entry["effect"] == INCOMPATIBLE and entry["needs_ack"] and "INTERVAL '30' MINUTE" in entry["flink_diff"]


def test_widened_type(repo):
    outcome, models = diff(repo, "widened")
    t = models["transitions"]
    assert t.sink_changes == (SinkChange("type_widened", "max_turns", "INT", "BIGINT", False),)
    assert not t.destructive
    # The accumulator's type changes too: the running job's state does not carry over.
    assert t.effect == INCOMPATIBLE and any("type INT → BIGINT" in r for r in t.reasons)
    assert outcome.exit_code == EXIT_NEEDS_ACK


def test_narrowed_type_is_destructive_and_the_reverse_widens(repo):
    outcome, models = diff(repo, "narrowed", "markdown")
    t = models["transitions"]
    assert t.sink_changes == (SinkChange("type_narrowed", "max_turns", "INT", "SMALLINT", True),)
    assert t.destructive and outcome.exit_code == EXIT_NEEDS_ACK
    assert "type narrowed (destructive)" in outcome.text
    _, models = diff(repo, "base", base="narrowed")
    assert models["transitions"].sink_changes == (SinkChange("type_widened", "max_turns", "SMALLINT", "INT", False),)


def test_partitioning_change_is_destructive(repo):
    outcome, models = diff(repo, "partitioning")
    t = models["transitions"]
    assert t.effect == COMPATIBLE
    assert t.sink_changes == (SinkChange("partitioning_changed", None, "tenant_id", "to_state", True),)
    assert t.attention and outcome.exit_code == EXIT_NEEDS_ACK


def test_new_model_is_added(repo):
    outcome, models = diff(repo, "new_model", "markdown")
    m = models["agent_activity"]
    assert (m.change, m.effect, m.deploy_action) == ("added", NEW_JOB, "create job")
    assert m.flink_diff.startswith("--- /dev/null")
    assert outcome.exit_code == EXIT_OK
    assert "| `agent_activity` | added | new table | new job | create job |" in outcome.text


def test_removed_model(repo):
    outcome, models = diff(repo, "removed_model")
    m = models["transitions"]
    assert (m.change, m.effect) == ("removed", JOB_REMOVED)
    assert m.deploy_action.startswith("stop job")
    assert outcome.exit_code == EXIT_OK


def test_compile_error_names_the_revision_and_location(repo):
    outcome, _ = diff(repo, "broken")
    assert outcome.exit_code == EXIT_ERROR
    assert "head" in outcome.text and "does not compile" in outcome.text
    assert "models/transitions.yml:9:" in outcome.text
    markdown = run_diff(repo[0], repo[1]["base"], repo[1]["broken"], "markdown").text
    assert markdown.startswith(MARKER) and "models/transitions.yml:9:" in markdown


def test_bad_ref(repo):
    outcome = run_diff(repo[0], "no-such-branch", None, "text")
    assert outcome.exit_code == EXIT_ERROR and "'no-such-branch' is not a commit" in outcome.text


def test_working_tree_is_compared_without_being_modified(repo, tmp_path):
    path, shas = repo
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(path), str(clone)], check=True)
    window_size(clone)  # uncommitted edit
    status = git(clone, "status", "--porcelain")
    outcome = run_diff(clone, shas["base"], None, "text")
    assert outcome.report.head == "working tree"
    assert {m.name: m.effect for m in outcome.report.changed} == {"session_analytics": INCOMPATIBLE}
    assert outcome.exit_code == EXIT_NEEDS_ACK
    assert not (clone / "target").exists()
    assert git(clone, "status", "--porcelain") == status
    assert git(clone, "worktree", "list").count("\n") == 0  # no worktree left behind


def test_project_in_a_subdirectory(tmp_path):
    repo = tmp_path / "mono"
    project = repo / "analytics"
    for name in ("models", "macros"):
        shutil.copytree(ROOT / name, project / name)
    shutil.copy(ROOT / "profiles.yml", project / "profiles.yml")
    (repo / "README").parent.mkdir(parents=True, exist_ok=True)
    (repo / "README").write_text("other things\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    new_metric(project)
    outcome = run_diff(project, "HEAD", None, "text")
    assert [(m.name, m.effect) for m in outcome.report.changed] == [("session_analytics", PARTIAL)]


def test_type_change_rules():
    assert type_change("INT", "BIGINT") == "widened"
    assert type_change("BIGINT", "INT") == "narrowed"
    assert type_change("FLOAT", "DOUBLE") == "widened"
    assert type_change("DECIMAL(10, 2)", "DECIMAL(12,2)") == "widened"
    assert type_change("DECIMAL(12, 2)", "DECIMAL(10, 2)") == "narrowed"
    assert type_change("STRING", "BIGINT") == "narrowed"
    assert type_change("VARCHAR(10)", "STRING") == "widened"
    assert type_change("BIGINT", "DOUBLE") == "changed"
    assert type_change("INTEGER", "INT") is None


def test_markdown_caps_many_models():
    big_diff = "\n".join(f"+line {i:04}" for i in range(400))  # 300 lines shown: ~3 KB a diff
    models = tuple(
        ModelDiff(f"model_{i:03}", "changed", INCOMPATIBLE if i % 2 else PARTIAL, ("window changed",),
                  (SinkChange("column_added", "c", None, "BIGINT", False),), "restart from empty state", None,
                  bool(i % 2), False, big_diff, big_diff, f"models/model_{i:03}.yml")
        for i in range(MAX_DETAILED + 12)
    )
    text = render_markdown(DiffReport("main (abc)", "HEAD (def)", models))
    assert text.startswith(MARKER) and TABLE_HEADER in text
    assert len(text) <= MAX_COMMENT_CHARS < 65_536
    rows = [line for line in text.splitlines() if line.startswith("| `model_")]
    assert len(rows) == MAX_DETAILED
    assert "12 more changed model(s), not detailed" in text
    assert "- `model_061`: changed" in text
    assert text.count("<details><summary><code>") == MAX_DETAILED
    assert "more line(s) cut" in text and "diff omitted to keep this comment under GitHub's size limit" in text


def test_cli_command(repo):
    """The real `diff` command: exit codes and output as CI sees them."""
    from click.testing import CliRunner

    from streammetrics.cli import main as group

    path, shas = repo
    result = CliRunner().invoke(group, ["--project-dir", str(path), "diff", "--base", shas["base"], "--head",
                                        shas["window_size"], "--format", "markdown"])
    assert result.exit_code == EXIT_NEEDS_ACK, result.output
    assert result.output.startswith(MARKER) and TABLE_HEADER in result.output
    result = CliRunner().invoke(group, ["--project-dir", str(path), "diff", "--base", shas["base"], "--head",
                                        shas["reformat"]])
    assert result.exit_code == EXIT_OK and "0 model(s) changed" in result.output
