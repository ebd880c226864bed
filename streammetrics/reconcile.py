"""`reconcile`: the compiled Trino query on a real Trino (raw events through the Kafka connector,
the job's output through the Iceberg connector), plus explanations of what does not match.

Explanations, each a second query built from the compiled one with sqlglot (never by hand):
- late events: the same recomputation counting late events too; a window that matches then was
  changed by lateness only (on a cluster the watermark advances periodically, so the borderline
  differs from the deterministic per-event rule the query models);
- duplicated deliveries: messages in the topic whose payload appears more than once.
Float drift within the metric's tolerance is not a mismatch in the first place.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlglot
from sqlglot import exp

from .dialects import TRINO
from .duckcheck import CheckResult, mismatches_from_rows
from .errors import StreamMetricsError
from .manifest import CompiledModel
from .profiles import Target, resolve_placeholders


@dataclass(frozen=True)
class ReconcileReport:
    model: str
    cutoff: datetime
    check: CheckResult
    explained_by_lateness: tuple[str, ...] = ()
    duplicate_messages: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def without_lateness(trino_sql: str) -> str:
    """The compiled query with the late-event rule removed (every event counts)."""
    tree = sqlglot.parse_one(trino_sql, read=TRINO)
    for paren in list(tree.find_all(exp.Paren)):
        if any(isinstance(c, exp.Column) and c.name == "watermark" for c in paren.find_all(exp.Column)) and paren.find(exp.Is):
            paren.replace(exp.true())
    return tree.sql(TRINO, pretty=True)


def connect(target: Target) -> Any:
    import logging

    import trino

    logging.getLogger("trino").setLevel(logging.ERROR)  # its fallback warnings are not the user's business

    t = target.trino
    auth = None
    password = resolve_placeholders(t.password) if t.password else None
    if password:
        auth = trino.auth.BasicAuthentication(resolve_placeholders(t.user), password)
    return trino.dbapi.connect(host=resolve_placeholders(t.host), port=t.port, user=resolve_placeholders(t.user),
                               http_scheme=t.http_scheme, auth=auth, timezone="UTC", request_timeout=300)


def _rows(connection: Any, sql: str, params: list[Any]) -> list[tuple]:
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()
    except Exception as exc:  # noqa: BLE001 - trino raises many types; all become one clear line
        name = type(exc).__name__
        text = str(exc).splitlines()[0][:400] if str(exc) else name
        if "Connection" in name or "Max retries" in text or "refused" in text.lower():
            raise StreamMetricsError(f"Trino is unreachable ({text}); is it running? check the target's trino settings") from None
        raise StreamMetricsError(f"Trino query failed: {text}") from None


def reconcile(compiled: CompiledModel, target: Target, cutoff: datetime, connection: Any = None) -> ReconcileReport:
    model = compiled.model
    if compiled.trino_sql is None:
        raise StreamMetricsError(f"model {model.name} has no reconciliation query ({model.spec.window.type} windows)")
    connection = connection or connect(target)
    keys = list(model.spec.group_by)
    rows = _rows(connection, compiled.trino_sql, [cutoff])
    mismatches = mismatches_from_rows(rows, keys, [m.name for m in model.metrics])
    _, database, table = model.spec.sink.table.split(".")
    sink = f'"{target.trino.iceberg_catalog}"."{database}"."{table}"'
    delay = f"INTERVAL '{model.watermark_ms / 1000:.3f}' SECOND"
    closed = _rows(connection, f"SELECT count(*) FROM {sink} WHERE window_end + {delay} <= ?", [cutoff])[0][0]
    check = CheckResult(closed + sum(1 for m in mismatches if m.missing == "sink"), mismatches)
    explained: tuple[str, ...] = ()
    duplicates = 0
    if mismatches:
        relaxed = _rows(connection, without_lateness(compiled.trino_sql), [cutoff])
        still = {(str(r[0]), tuple(r[2:2 + len(keys)])) for r in relaxed}  # windows still mismatching
        explained = tuple(sorted({f"{m.window_start} {m.keys}" for m in mismatches
                                  if (str(m.window_start), tuple(m.keys.values())) not in still}))
        topic = f'"{target.trino.kafka_catalog}"."{target.trino.kafka_schema}"."{model.source.topic}"'
        duplicates = _rows(connection, f"SELECT count(*) - count(DISTINCT _message) FROM {topic}", [])[0][0]
    return ReconcileReport(model.name, cutoff, check, explained, duplicates)


def to_json(report: ReconcileReport) -> str:
    def plain(value: Any) -> Any:
        return str(value) if isinstance(value, datetime) else value

    data = {
        "model": report.model, "cutoff": str(report.cutoff),
        "windows_checked": report.check.windows_checked, "windows_matched": report.check.windows_matched,
        "windows_mismatched": report.check.windows_mismatched,
        "mismatches": [{k: plain(v) for k, v in asdict(m).items()} for m in report.check.mismatches],
        "explained_by_lateness": list(report.explained_by_lateness), "duplicate_messages": report.duplicate_messages,
    }
    return json.dumps(data, indent=2, default=str)


def to_markdown(report: ReconcileReport) -> str:
    c = report.check
    lines = [f"### Reconciliation: `{report.model}` (windows closed before {report.cutoff})", "",
             "| windows checked | matched | mismatched |", "|---:|---:|---:|",
             f"| {c.windows_checked} | {c.windows_matched} | {c.windows_mismatched} |", ""]
    if c.mismatches:
        lines += ["| window | key | metric | expected | actual | missing |", "|---|---|---|---|---|---|"]
        for m in c.mismatches[:100]:
            key = ", ".join(f"{k}={v}" for k, v in m.keys.items())
            lines.append(f"| {m.window_start} | {key} | {m.metric or ''} | {m.expected or ''} | {m.actual or ''} | {m.missing or ''} |")
    return "\n".join(lines) + "\n"
