"""Every statement of every compiled Flink script is accepted by real Flink (PyFlink's planner).

Only the connectors change (Kafka -> datagen, Iceberg -> blackhole; both ship in the PyFlink wheel):
the settings, DDL columns and watermark, and the INSERT ... SELECT are exactly as compiled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, run_cli

pyflink = pytest.importorskip("pyflink", reason="PyFlink (extra 'flink') is required for the planner check")

from streammetrics.embedded import explain  # noqa: E402

PROJECTS = {"main": ROOT, "agent_performance": ROOT / "tests" / "projects" / "agent_performance"}


def compiled_scripts(tmp_root: Path) -> list[tuple[str, Path]]:
    scripts = []
    for name, project in PROJECTS.items():
        out = tmp_root / name
        result = run_cli(project, "compile", "-q", "--output-dir", str(out))
        assert result.exit_code == 0, result.output
        scripts += [(f"{name}/{p.name}", p) for p in sorted(out.glob("*.flink.sql"))]
    return scripts


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, Path]:
    return dict(compiled_scripts(tmp_path_factory.mktemp("compiled")))


def test_all_models_are_checked(scripts: dict[str, Path]) -> None:
    assert sorted(scripts) == [
        "agent_performance/agent_daily_cumulative.flink.sql",
        "agent_performance/agent_performance.flink.sql",
        "agent_performance/agent_sessions.flink.sql",
        "main/session_analytics.flink.sql",
    ]


@pytest.mark.parametrize("name", [
    "main/session_analytics.flink.sql",
    "agent_performance/agent_performance.flink.sql",
    "agent_performance/agent_daily_cumulative.flink.sql",
    "agent_performance/agent_sessions.flink.sql",
])
def test_flink_accepts_script(scripts: dict[str, Path], name: str) -> None:
    plans = explain(scripts[name].read_text())
    assert len(plans) == 1
    plan = plans[0]
    # window TVF aggregation (never the deprecated group-window operator), append-only to the sink
    assert "WindowAggregate" in plan, plan
    assert "GroupWindowAggregate" not in plan
    assert "changelogMode=[I,UB,UA,D]" not in plan


def test_java_functions_keep_one_window_aggregate(scripts: dict[str, Path]) -> None:
    """The default (`flink.functions: java`): top_n lists are SM_TOP_N aggregates inside the one window
    aggregation, and `metadata` is parsed by one SM_JSON_VALUES per event instead of a JSON_VALUE per path."""
    plan = explain(scripts["main/session_analytics.flink.sql"].read_text())[0]
    plan = plan.split("== Optimized Execution Plan ==")[1]
    aggregates = [line for line in plan.splitlines() if "WindowAggregate(" in line]
    # one window aggregation, in one phase (table.optimizer.agg-phase-strategy = ONE_PHASE)
    assert len(aggregates) == 1 and "LocalWindowAggregate" not in plan, plan
    assert "SM_TOP_N(" in aggregates[0] and "COUNT(DISTINCT entity_id)" in aggregates[0], plan
    assert "WindowRank(" not in plan and "WindowJoin(" not in plan and "Join(" not in plan
    assert "JSON_VALUE(" not in plan
    assert "SM_JSON_VALUES(metadata, '$.duration_ms', '$.turn_count', '$.agent_id', '$.intent')" in plan


def sql_functions_script() -> str:
    """session_analytics compiled for a target with `flink.functions: sql` (built-in functions only)."""
    from streammetrics.flink import compile_flink
    from streammetrics.profiles import load_target
    from streammetrics.project import load_project

    _, target = load_target(ROOT / "profiles.yml", None, ROOT)
    target = target.model_copy(update={"flink": target.flink.model_copy(update={"functions": "sql"})})
    return compile_flink(load_project(ROOT, ["session_analytics"]).models["session_analytics"], target)


def test_sql_functions_top_n_stays_window_native() -> None:
    script = sql_functions_script()
    assert "SM_" not in script and "ADD JAR" not in script
    plan = explain(script)[0]
    plan = plan.split("== Optimized Execution Plan ==")[1]
    assert plan.count("WindowRank(") == 1  # one window Top-N for all top_n metrics (tagged by metric)
    assert plan.count("WindowJoin(") == 1  # joined back on the window, not with a regular (updating) join
    assert "rankRange=[rankStart=1, rankEnd=5]" in plan
    assert "c DESC, v ASC]" in plan  # most frequent first, ties by value; NULL ranked last ($n ASC)
    # each JSON path is read once per event: 2 averages + 2 top-N lists (a second read costs ~1.4 us/event)
    assert plan.count("JSON_VALUE(") == 4


def test_rejected_sql_is_reported(tmp_path: Path) -> None:
    """The check can fail: a script Flink rejects raises (here: a column the source lacks)."""
    text = (ROOT / "tests" / "golden" / "session_analytics.flink.sql").read_text()
    broken = text.replace("COUNT(DISTINCT triggered_by)", "COUNT(DISTINCT triggered_byy)")
    with pytest.raises(Exception, match="triggered_byy"):
        explain(broken)
