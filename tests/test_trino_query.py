"""The generated reconciliation queries are valid Trino: they parse in sqlglot's Trino dialect and
call no function Trino lacks."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from conftest import ROOT, run_cli
from streammetrics.trino import unsupported_functions

PROJECTS = {"main": ROOT, "agent_performance": ROOT / "tests" / "projects" / "agent_performance"}


@pytest.fixture(scope="module")
def queries(tmp_path_factory) -> dict[str, str]:
    found = {}
    for name, project in PROJECTS.items():
        out = tmp_path_factory.mktemp(name)
        result = run_cli(project, "compile", "-q", "--output-dir", str(out))
        assert result.exit_code == 0, result.output
        found.update({f"{name}/{p.name}": p.read_text() for p in out.glob("*.trino.sql")})
    return found


def test_every_windowed_model_has_a_query(queries: dict[str, str]) -> None:
    assert sorted(queries) == [
        "agent_performance/agent_daily_cumulative.trino.sql",
        "agent_performance/agent_performance.trino.sql",
        "agent_performance/agent_sessions.trino.sql",
        "main/session_analytics.trino.sql",
    ]


@pytest.mark.parametrize("name", ["main/session_analytics.trino.sql", "agent_performance/agent_performance.trino.sql",
                                  "agent_performance/agent_daily_cumulative.trino.sql",
                                  "agent_performance/agent_sessions.trino.sql"])
def test_query_is_trino(queries: dict[str, str], name: str) -> None:
    query = queries[name]
    tree = sqlglot.parse_one(query, read="trino")
    assert isinstance(tree, exp.Select) or isinstance(tree, exp.Union)
    assert not list(tree.find_all(exp.Command))
    assert unsupported_functions(query) == []
    assert len(list(tree.find_all(exp.Placeholder))) == 1  # the single cut-off parameter


def test_checker_catches_missing_functions() -> None:
    """The check can fail: DATE_BIN (Trino has none) and an unknown function are reported."""
    assert unsupported_functions("SELECT DATE_TRUNC('hour', ts), NO_SUCH_FN(x) FROM t") == ["NO_SUCH_FN"]
    bin_query = "SELECT DATE_BIN(INTERVAL '15' MINUTE, ts, TIMESTAMP '2000-01-01 00:00:00') FROM t"
    assert unsupported_functions(sqlglot.transpile(bin_query, read="postgres", write="trino")[0]) != []


def test_recomputation_reads_raw_events_and_the_sink(queries: dict[str, str]) -> None:
    query = queries["main/session_analytics.trino.sql"]
    tables = {t.sql("trino") for t in sqlglot.parse_one(query, read="trino").find_all(exp.Table)}
    assert 'kafka."default"."matih.ai.state-changes"' in tables or 'kafka.default."matih.ai.state-changes"' in tables
    assert "iceberg.matih_analytics.session_analytics" in tables
