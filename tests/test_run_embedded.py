"""End to end on the embedded Flink: hand-made events, expected output computed here in plain Python
(independently of the project's SQL), then the same events reconciled on DuckDB."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from session_expectations import expected_late_events, expected_rows

pytest.importorskip("pyflink", reason="PyFlink (extra 'flink') is required")

def event(ts: str, tenant: str | None, session: str, to_state: str, *, user: str = "u1", entity_type: str = "session_phase",
          metadata: dict | str | None = None, event_id: str | None = None) -> dict:
    e = {"event_id": event_id or f"{session}-{to_state}-{ts}", "event_type": "state_change", "tenant_id": tenant,
         "entity_type": entity_type, "entity_id": session, "from_state": None, "to_state": to_state,
         "triggered_by": user, "metadata": metadata if isinstance(metadata, str) or metadata is None else json.dumps(metadata),
         "timestamp": ts}
    if tenant is None:
        del e["tenant_id"]
    return e


# In arrival order. Times are 2026-12-04; windows are [10:00, 10:15), [10:15, 10:30), [10:30, 10:45) ...
EVENTS: list[dict | str] = [
    event("2026-12-04T10:00:01.000", "acme", "s1", "created", metadata={"agent_id": "planner", "intent": "forecast"}),
    event("2026-12-04T10:02:00.000", "acme", "s1", "active", metadata={"agent_id": "planner", "intent": "forecast"}),
    event("2026-12-04T10:05:00.000", "acme", "s1", "completed", metadata={"duration_ms": 240000, "turn_count": 4, "agent_id": "critic"}),
    event("2026-12-04T10:05:00.000", "acme", "s1", "completed", event_id="dup",  # duplicate delivery, same id
          metadata={"duration_ms": 240000, "turn_count": 4, "agent_id": "critic"}),
    event("2026-12-04T10:06:00.000", "acme", "s2", "created", user="u2", metadata={"agent_id": "router", "intent": "churn"}),
    event("2026-12-04T10:07:00.000", "acme", "s2", "completed", user="u2"),  # completion without metadata
    event("2026-12-04T10:08:00.000", "acme", "s3", "completed", user="u3", metadata={"duration_ms": "abc", "turn_count": 2}),
    event("2026-12-04T10:09:00.000", "acme", "w1", "created", entity_type="workflow_step", metadata={"agent_id": "ghost"}),
    event("2026-12-04T10:10:00.000", "globex", "g1", "created", user="g", metadata={"agent_id": "sql-writer", "intent": "forecast"}),
    event("2026-12-04T10:11:00.000", "globex", "g1", "completed", user="g", metadata={"duration_ms": 60000, "turn_count": 1, "agent_id": "sql-writer"}),
    event("2026-12-04T10:12:00.000", None, "x1", "created"),  # no tenant_id
    "this line is not json",
    '{"event_id": "half", "tenant_id": "acme"',
    event("2026-12-04T10:14:59.999", "globex", "g2", "created", user="g", metadata={"agent_id": "router"}),
    event("2026-12-04T10:15:00.000", "acme", "s4", "created", metadata={"agent_id": "planner"}),  # opens the next window
    event("2026-12-04T10:13:00.000", "acme", "s5", "created", metadata="not json"),  # out of order, on time
    event("not a timestamp", "acme", "s6", "created"),
    event("2026-12-04T10:16:00.000", "initech", "i1", "active", user="i", metadata={"agent_id": "a", "intent": "b"}),
    event("2026-12-04T10:30:31.000", "initech", "i2", "created", user="i", metadata={"agent_id": "b"}),  # watermark 10:30:01
    event("2026-12-04T10:29:00.000", "acme", "s7", "completed", metadata={"duration_ms": 1000}),  # late: window closed
    event("2026-12-04T10:31:00.000", "acme", "s8", "created", metadata={"agent_id": "a"}),
    event("2026-12-04T10:30:10.000", "acme", "s9", "created", metadata={"agent_id": "b"}),  # behind the watermark, window open
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    events = tmp / "events.jsonl"
    events.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in EVENTS))
    output = tmp / "out.jsonl"
    result = run_cli(ROOT, "run", "--select", "session_analytics", "--events", str(events), "--output", str(output))
    return result, [json.loads(line) for line in output.read_text().splitlines()], events


def test_output_equals_hand_computed_rows(run) -> None:
    result, rows, _ = run
    assert result.exit_code == 0, result.output
    expected = expected_rows(EVENTS)
    assert [(r["window_start"], r["tenant_id"]) for r in rows] == [(r["window_start"], r["tenant_id"]) for r in expected]
    for got, want in zip(rows, expected):
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == (pytest.approx(value) if isinstance(value, float) else value), (key, got, want)


def test_the_cases_the_events_cover(run) -> None:
    _, rows, _ = run
    by_key = {(r["window_start"][11:16], r["tenant_id"]): r for r in rows}
    first = by_key[("10:00", "acme")]
    assert first["total_sessions"] == 4  # s1 s2 s3 s5 (out of order); workflow_step w1, tenant-less x1 excluded
    assert first["completion_rate"] == pytest.approx(4 / 4)  # s1's duplicate completion counts twice, as the formula does
    assert first["avg_duration_ms"] == pytest.approx(240000.0)  # "abc" and missing metadata are NULL
    assert first["top_agents"] == ["critic", "planner", "router"]
    assert ("10:00", "globex") in by_key and by_key[("10:00", "globex")]["total_sessions"] == 2  # 10:14:59.999
    assert by_key[("10:15", "acme")]["total_sessions"] == 1  # 10:15:00.000 opens the next window; s7 was late
    assert by_key[("10:30", "acme")]["total_sessions"] == 2  # s9 behind the watermark but its window was open


def test_run_reports_bad_and_late_events(run) -> None:
    result, _, _ = run
    assert "not json: 2" in result.output
    assert "missing required: 1" in result.output
    assert "bad event time: 1" in result.output
    assert "late events dropped: 1" in result.output
    assert "Reconciliation: 6 window(s) checked, 6 matched, 0 mismatched" in result.output


def test_corrupted_output_is_reported_as_mismatch(run) -> None:
    from streammetrics import duckcheck, events as ev
    from streammetrics.context import Context

    _, rows, events = run
    context = Context(ROOT)
    compiled = next(c for c in context.compile(["session_analytics"]).compiled)
    _, target = context.load_target()
    decoded = list(ev.raw_rows(ev.read_lines(events)))
    assert duckcheck.reconcile(compiled, target, decoded, rows).mismatches == ()
    corrupted = [dict(r) for r in rows]
    victim = next(r for r in corrupted if r["tenant_id"] == "globex")
    victim["unique_users"] += 1
    dropped = corrupted.pop(0)
    check = duckcheck.reconcile(compiled, target, decoded, corrupted)
    found = {(str(m.window_start), m.keys["tenant_id"], m.metric, m.expected, m.actual, m.missing) for m in check.mismatches}
    assert found == {
        ("2026-12-04 10:00:00", "globex", "unique_users", "1", "2", None),
        (dropped["window_start"][:19], dropped["tenant_id"], None, None, None, "sink"),
    }
    assert check.windows_mismatched == 2


def test_missing_events_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(ROOT, "run", "--select", "session_analytics", "--events", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope.jsonl'}: no such events file" in result.stderr


def test_unknown_model_is_a_clear_error() -> None:
    result = run_cli(ROOT, "run", "--select", "session_analytic")
    assert result.exit_code == 1
    assert "--select 'session_analytic' matches no model; did you mean 'session_analytics'?" in result.stderr


def test_generated_sample_events_match_the_hand_computation(tmp_path: Path) -> None:
    """The built-in generator's events (late, malformed, duplicated, bad values included) through the
    whole path: generator -> Flink -> output, against the plain-Python formulas."""
    output = tmp_path / "out.jsonl"
    result = run_cli(ROOT, "run", "--select", "session_analytics", "--count", "6000", "--output", str(output), "--rows", "0")
    assert result.exit_code == 0, result.output
    events = (ROOT / "target" / "events" / "state_changes.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    expected = expected_rows(events)
    assert len(rows) == len(expected) > 10
    for got, want in zip(rows, expected):
        for key, value in want.items():
            assert got[key] == (pytest.approx(value) if isinstance(value, float) else value), (key, got, want)
    assert "late events dropped: 0" not in result.output and "not json: 0" not in result.output


@pytest.mark.parametrize("model", ["agent_performance", "agent_daily_cumulative", "agent_sessions"])
def test_other_window_types_reconcile_with_flink(tmp_path: Path, model: str) -> None:
    """Hopping, cumulating and session windows: Flink's output against the compiled Trino query's
    recomputation (on DuckDB), two engines computing independently, on generated events."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "tests" / "projects" / "agent_performance", project, symlinks=False)
    result = run_cli(project, "run", "--select", model, "--count", "2000", "--rows", "0")
    assert result.exit_code == 0, result.output
    checked = re.search(r"Reconciliation: (\d+) window\(s\) checked, (\d+) matched, 0 mismatched", result.output)
    assert checked and int(checked.group(1)) == int(checked.group(2)) >= 5, result.output


def test_late_events_table_holds_what_the_window_dropped(project: Path, capsys) -> None:
    """A model with late_events: its second INSERT (same job, a statement set) keeps exactly the events
    the window dropped, with the watermark they arrived after, computed here in plain Python."""
    from streammetrics.cli import _print_run
    from streammetrics.context import Context

    model = project / "models" / "session_analytics.yml"
    model.write_text(model.read_text() + "    late_events:\n      table: polaris.matih_analytics.session_analytics_late\n")
    report = Context(project).run("session_analytics", count=6000)  # generated events, late ones included
    lines = report.events_path.read_text().splitlines()
    expected = expected_late_events(lines)
    assert len(expected) > 3
    got = {row["event_id"]: row["dropped_at_watermark"] for row in report.late_rows}
    assert got == {k: v.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for k, v in expected.items()}
    _print_run(report, 0)
    assert f"Late-events table: {len(expected)} event(s)" in capsys.readouterr().out
    script = (project / "target" / "session_analytics.flink.sql").read_text()
    assert "EXECUTE STATEMENT SET" in script and "INSERT INTO polaris.matih_analytics.session_analytics_late" in script
