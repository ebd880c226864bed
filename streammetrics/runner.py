"""`run`: execute a compiled model on Flink in-process over an events file, deterministically.

Only the connectors change: the Kafka source becomes a bounded read of the events file (same JSON
format options), and the sink becomes Flink's collect sink (rows come back to Python and are written
as JSON lines). The query is the compiled INSERT's SELECT, unchanged.

Determinism: parallelism 1 and `pipeline.auto-watermark-interval` 0, so the watermark advances right
after every event (max event time so far minus the delay) instead of on a wall-clock timer; an event
whose window slice that watermark has already closed is late and dropped, as on a cluster. The end of
the file closes every remaining window.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from sqlglot import exp

from . import functions
from .dialects import FLINK
from .dialects.flink import StatementSet
from .embedded import table_environment
from .errors import StreamMetricsError
from .events import format_timestamp
from .flink import late_event_columns, sink_columns
from .flinkscript import FlinkScript, insert_target, table_options
from .manifest import CompiledModel

DETERMINISTIC = {
    "parallelism.default": "1",
    "pipeline.auto-watermark-interval": "0 ms",
    "table.exec.source.idle-timeout": "0 ms",
}
DROPPED_SETTINGS = ("execution.checkpointing.interval", "execution.checkpointing.mode")


@dataclass
class FlinkRun:
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    late_rows: list[dict[str, Any]] | None = None  # the late-events table's rows, when the model has one


def file_source_options(script: FlinkScript, events: Path) -> dict[str, str]:
    kafka = next((dict(table_options(t)) for t in script.tables() if dict(table_options(t)).get("connector") == "kafka"), None)
    if kafka is None:
        raise StreamMetricsError("the compiled script has no Kafka source table to replace")
    options = {"connector": "filesystem", "path": str(events.resolve()), "format": "json"}
    options.update({k: v for k, v in kafka.items() if k.startswith("json.")})
    return options


def run_flink(compiled: CompiledModel, events: Path, on_row: Callable[[int], None] | None = None) -> FlinkRun:
    script = FlinkScript.parse(functions.resolve(compiled.flink_sql))
    local = script.with_connectors(file_source_options(script, events), {"connector": "blackhole"})
    settings = {k: v for k, v in local.settings.items() if k not in DROPPED_SETTINGS}
    settings.update(DETERMINISTIC)
    env = table_environment(settings)
    inserts = local.inserts()
    main_sink = f"{compiled.model.spec.sink.table.split('.')[-1]}__sink"
    main = [i for i in inserts if insert_target(i).name == main_sink]
    if len(main) != 1:
        raise StreamMetricsError(f"expected one INSERT into the model's sink in {compiled.flink_path}, found {len(main)}")
    for statement in local.statements:
        if not isinstance(statement, (exp.Insert, StatementSet)):
            env.execute_sql(statement.sql(FLINK))
    query = main[0].expression
    names = [name for name, _, _ in sink_columns(compiled.model)]
    started = time.perf_counter()
    result = FlinkRun()
    with env.execute_sql(query.sql(FLINK)).collect() as results:
        for row in results:
            result.rows.append({name: _plain(value) for name, value in zip(names, row)})
            if on_row:
                on_row(len(result.rows))
    result.seconds = time.perf_counter() - started
    keys = ["window_start", "window_end", *compiled.model.spec.group_by]
    result.rows.sort(key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in keys))
    late = [i for i in inserts if i is not main[0]]
    if late:
        result.late_rows = _late_rows(env, late[0], compiled)
    return result


def _late_rows(env, insert: exp.Insert, compiled: CompiledModel) -> list[dict[str, Any]]:
    """The late-events INSERT, run as its own job over the same file: a replay is deterministic, so it
    sees the same watermarks as the window did. Its rows are collected like the sink's."""
    names = [name for name, _ in late_event_columns(compiled.model)]
    rows = []
    with env.execute_sql(insert.expression.sql(FLINK)).collect() as results:
        for row in results:
            rows.append({name: _plain(value) for name, value in zip(names, row)})
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
