"""The session analytics job compiles to exactly the reviewed files in tests/golden/.

Regenerate after an intended change with `pytest tests/test_golden.py --update-golden` and review
the diff like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, run_cli

GOLDEN = ROOT / "tests" / "golden"
FILES = ["session_analytics.flink.sql", "session_analytics.trino.sql", "manifest.json"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("target")
    result = run_cli(ROOT, "compile", "--output-dir", str(out), "--select", "session_analytics")
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("name", FILES)
def test_matches_golden(compiled: Path, name: str, update_golden: bool) -> None:
    actual = (compiled / name).read_text()
    golden = GOLDEN / name
    if update_golden:
        golden.write_text(actual)
    assert golden.exists(), f"{golden} missing: run pytest --update-golden and review it"
    assert actual == golden.read_text(), f"{name} differs from tests/golden; if intended, run --update-golden"


def test_compile_is_deterministic(compiled: Path, tmp_path: Path) -> None:
    result = run_cli(ROOT, "compile", "--output-dir", str(tmp_path), "--select", "session_analytics", "-q")
    assert result.exit_code == 0, result.output
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (compiled / name).read_bytes()


def test_spec_formulas_appear_verbatim(compiled: Path) -> None:
    """The user's specification (shared/spec/session-analytics.md), clause by clause."""
    flink = (compiled / "session_analytics.flink.sql").read_text()
    assert "'topic' = 'matih.ai.state-changes'" in flink
    assert "'properties.group.id' = 'flink-session-analytics'" in flink
    assert "CREATE TABLE IF NOT EXISTS polaris.matih_analytics.session_analytics (" in flink
    assert "TUMBLE(TABLE state_changes, DESCRIPTOR(rowtime), INTERVAL '15' MINUTE)" in flink
    # the watermark is on `timestamp`, through a never-NULL copy (a NULL time attribute fails the job)
    assert "rowtime AS COALESCE(`timestamp`, CAST('1970-01-01 00:00:00' AS TIMESTAMP(3)))" in flink
    assert "WATERMARK FOR rowtime AS rowtime - INTERVAL '30' SECOND" in flink
    assert "AND `timestamp` IS NOT NULL" in flink
    assert "(entity_type = 'session_phase')" in flink
    assert ("CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) "
            "/ GREATEST(COUNT(DISTINCT entity_id), 1) AS completion_rate") in flink
    assert "COUNT(DISTINCT entity_id) AS total_sessions" in flink
    assert "COUNT(DISTINCT triggered_by) AS unique_users" in flink
    # AVG(CAST(JSON_VALUE(metadata, '$.duration_ms') AS DOUBLE)): metadata is parsed once per event by
    # SM_JSON_VALUES, whose element i is JSON_VALUE(metadata, path i) (tests/test_flink_functions.py)
    assert ("SM_JSON_VALUES(metadata, '$.duration_ms', '$.turn_count', '$.agent_id', '$.intent') "
            "AS metadata__json") in flink
    assert "AVG(TRY_CAST(metadata__json[1] AS DOUBLE)) AS avg_duration_ms" in flink
    assert "AVG(TRY_CAST(metadata__json[2] AS DOUBLE)) AS avg_turns" in flink
    assert "SM_TOP_N(metadata__json[3], 5) AS top_agents" in flink
    assert "SM_TOP_N(metadata__json[4], 5) AS top_intents" in flink
    assert "GROUP BY TUMBLE" not in flink and "TUMBLE_START" not in flink  # deprecated group windows
    assert "distinct-agg.split" not in flink  # opt-in: it cost throughput here (bench/throughput_bench.py)
    assert "'pipeline.name' = 'session_analytics'" in flink


def test_no_secret_values_in_target(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("ICEBERG_JDBC_PASSWORD", "s3cr3t-value")
    result = run_cli(project, "compile", "-q")
    assert result.exit_code == 0, result.output
    for path in (project / "target").iterdir():
        text = path.read_text()
        assert "s3cr3t-value" not in text, path
    assert "${env:ICEBERG_JDBC_PASSWORD:-streammetrics}" in (project / "target" / "session_analytics.flink.sql").read_text()
