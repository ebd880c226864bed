"""Embedded reconciliation: the compiled Trino query, transpiled by sqlglot to DuckDB, over the
events file (decoded as Flink decodes it) and a run's output.

The query text is the artifact from target/; only the dialect changes. Where DuckDB's semantics
differ from Trino's, the DuckDB generator below is adjusted (declaratively, per AST node), never the
query: Trino's json_extract_scalar is NULL for invalid JSON and for objects/arrays, DuckDB's
json_extract_string raises or returns the JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from .manifest import CompiledModel
from .profiles import Target



class EmbeddedDuckDB(DuckDB):
    class Generator(DuckDB.Generator):
        def jsonextractscalar_sql(self, expression: exp.JSONExtractScalar) -> str:
            doc = self.sql(expression, "this")
            path = self.sql(expression, "expression")
            valid = f"CASE WHEN json_valid({doc}) THEN {doc} END"
            return (f"CASE WHEN json_type({valid}, {path}) IN ('OBJECT', 'ARRAY') THEN NULL "
                    f"ELSE json_extract_string({valid}, {path}) END")

        TRANSFORMS = {**DuckDB.Generator.TRANSFORMS}
        TRANSFORMS.pop(exp.JSONExtractScalar, None)


DUCK = EmbeddedDuckDB()
FAR_FUTURE = datetime(9999, 1, 1)


@dataclass(frozen=True)
class Mismatch:
    window_start: Any
    window_end: Any
    keys: dict[str, Any]
    metric: str | None
    expected: str | None
    actual: str | None
    missing: str | None

    def describe(self) -> str:
        where = f"window {self.window_start} .. {self.window_end}, " + ", ".join(f"{k}={v}" for k, v in self.keys.items())
        if self.missing == "sink":
            return f"{where}: the job wrote no row, the events give one"
        if self.missing == "events":
            return f"{where}: the job wrote a row that the events do not give"
        return f"{where}: {self.metric} expected {self.expected}, actual {self.actual}"


@dataclass(frozen=True)
class CheckResult:
    windows_checked: int
    mismatches: tuple[Mismatch, ...]

    @property
    def windows_mismatched(self) -> int:
        return len({(m.window_start, tuple(m.keys.items())) for m in self.mismatches})

    @property
    def windows_matched(self) -> int:
        return self.windows_checked - self.windows_mismatched


def mismatches_from_rows(rows: list[tuple], keys: list[str], metrics: list[str]) -> tuple[Mismatch, ...]:
    """The query's rows (window, keys, missing, then per metric: mismatch, expected, actual) as
    one Mismatch per missing row or mismatching metric."""
    found = []
    for row in rows:
        start, end, key_values = row[0], row[1], dict(zip(keys, row[2:2 + len(keys)]))
        missing = row[2 + len(keys)]
        if missing is not None:
            found.append(Mismatch(start, end, key_values, None, None, None, missing))
            continue
        base = 3 + len(keys)
        for i, metric in enumerate(metrics):
            flag, expected, actual = row[base + 3 * i: base + 3 * i + 3]
            if flag:
                found.append(Mismatch(start, end, key_values, metric, expected, actual, None))
    return tuple(found)


def to_duckdb(trino_sql: str) -> str:
    return sqlglot.transpile(trino_sql, read="trino", write=DUCK, pretty=True)[0]


def reconcile(compiled: CompiledModel, target: Target, events: list[tuple[int, dict[str, Any]]],  # events.raw_rows
              output: list[dict[str, Any]], cutoff: datetime = FAR_FUTURE) -> CheckResult:
    import duckdb

    model = compiled.model
    if compiled.trino_sql is None:
        raise ValueError(f"model {model.name} has no reconciliation query ({model.spec.window.type} window)")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    source, sink = model.source, model.spec.sink
    _, database, table = sink.table.split(".")
    t = target.trino
    for catalog, schema in ((t.kafka_catalog, t.kafka_schema), (t.iceberg_catalog, database)):
        if not con.execute("SELECT 1 FROM duckdb_databases() WHERE database_name = ?", [catalog]).fetchall():
            con.execute(f"ATTACH ':memory:' AS {_q(catalog)}")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(catalog)}.{_q(schema)}")
    raw = f"{_q(t.kafka_catalog)}.{_q(t.kafka_schema)}.{_q(source.topic)}"
    columns = [(c.name, "VARCHAR") for c in source.columns]  # the topic's fields as JSON text, as Trino reads them
    con.execute(f"CREATE TABLE {raw} ({', '.join(f'{_q(n)} {ty}' for n, ty in columns)}, "
                "_partition_id BIGINT, _partition_offset BIGINT)")
    con.executemany(f"INSERT INTO {raw} VALUES ({', '.join('?' for _ in range(len(columns) + 2))})",
                    [[row.get(n) for n, _ in columns] + [0, number] for number, row in events])
    from .flink import sink_columns

    sink_cols = sink_columns(model)
    actual = f"{_q(t.iceberg_catalog)}.{_q(database)}.{_q(table)}"
    con.execute(f"CREATE TABLE {actual} ({', '.join(f'{_q(n)} {_duck_type(ty)}' for n, ty, _ in sink_cols)})")
    con.executemany(f"INSERT INTO {actual} VALUES ({', '.join('?' for _ in sink_cols)})",
                    [[_from_output(row.get(n), ty) for n, ty, _ in sink_cols] for row in output])
    rows = con.execute(to_duckdb(compiled.trino_sql), [cutoff]).fetchall()
    mismatches = mismatches_from_rows(rows, list(model.spec.group_by), [m.name for m in model.metrics])
    delay = model.watermark_ms
    closed = con.execute(
        f"SELECT count(*) FROM {actual} WHERE window_end + to_milliseconds({delay}) <= ?", [cutoff]
    ).fetchone()[0]
    missing_in_sink = sum(1 for m in mismatches if m.missing == "sink")
    return CheckResult(windows_checked=closed + missing_in_sink, mismatches=mismatches)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck_type(flink_type: str) -> str:
    t = flink_type.upper()
    if t.startswith("ARRAY<"):
        return _duck_type(t[6:-1]) + "[]"
    if t.startswith(("STRING", "VARCHAR", "CHAR")):
        return "VARCHAR"
    if t.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return {"INT": "INTEGER"}.get(t, t)


def _from_output(value: Any, flink_type: str) -> Any:
    if value is not None and flink_type.upper().startswith("TIMESTAMP") and isinstance(value, str):
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f")
    return value



