"""Flink in-process (PyFlink mini-cluster): the planner check and, later, local runs.

PyFlink is an optional dependency (extra `flink`); importing this module without it raises a
StreamMetricsError that says how to install it.
"""

from __future__ import annotations

from . import functions
from .errors import StreamMetricsError
from .dialects.flink import StatementSet
from .flinkscript import FlinkScript

# Connectors that ship inside the PyFlink wheel, used where the real ones (Kafka, Iceberg) are absent.
PLANNER_SOURCE = {"connector": "datagen", "number-of-rows": "1"}
PLANNER_SINK = {"connector": "blackhole"}


def _pyflink():
    try:
        from pyflink.table import EnvironmentSettings, TableEnvironment
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StreamMetricsError(
            "PyFlink is not installed; run: pip install -e '.[flink]' (apache-flink 2.2.1, needs Java 17)"
        ) from exc
    return EnvironmentSettings, TableEnvironment


def table_environment(settings: dict[str, str]):
    EnvironmentSettings, TableEnvironment = _pyflink()
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    for key, value in settings.items():
        config.set(key, value)
    return env


def explain(script_text: str, env=None) -> list[str]:
    """Run every statement of a compiled script through Flink's planner; returns one plan per INSERT.

    The Kafka source and Iceberg sink are swapped for datagen/blackhole, so what is checked is the
    query, types, window TVFs and settings, exactly as compiled. Raises on the first rejected statement.
    """
    script = FlinkScript.parse(functions.resolve(script_text)).with_connectors(PLANNER_SOURCE, PLANNER_SINK)
    env = env or table_environment(script.settings)
    plans = []
    for statement in script.statements:
        text = statement.sql("flink")
        if statement.key == "insert":
            plans.append(env.explain_sql(text))
        elif isinstance(statement, StatementSet):
            statement_set = env.create_statement_set()
            for insert in statement.expressions:
                statement_set.add_insert_sql(insert.sql("flink"))
            plans.append(statement_set.explain())
        else:
            env.execute_sql(text)
    return plans
