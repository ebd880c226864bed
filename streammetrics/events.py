"""Events files (one JSON event per line, the topic's message format): decoding and the bad-event policy.

`decode` reproduces what the compiled Flink source does with each line (Flink's JSON format with
`json.ignore-parse-errors`), so that the embedded reconciliation reads the same rows Flink read and
`run` can say how many events of each kind of problem it met. The policy, per case:

| case | Flink job | counted as |
|---|---|---|
| line is not JSON, or not a JSON object | line skipped | `not_json` |
| event time missing or unparseable (e.g. a zone suffix 'Z', epoch millis) | field NULL, event skipped by the job's filter | `bad_event_time` |
| NULL / missing value in a `nullable: false` column (e.g. tenant_id) | event skipped by the job's filter | `missing_required` |
| value of another JSON type for a column (number for STRING, ...) | converted as Flink does (STRING gets the JSON text) or NULL | `bad_value` when it became NULL |
| JSON-path metric value that is not JSON or does not convert (e.g. "abc" for DOUBLE) | value NULL, event still counted | `bad_metric_value` |
| event behind the watermark whose window slice is already closed | dropped by the window operator | `late` |
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from .spec import Source

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$")
_SQL = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$")
_INTEGRAL = ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT")
_FRACTIONAL = ("FLOAT", "DOUBLE", "DECIMAL")


def parse_timestamp(value: Any, fmt: str) -> datetime | None:
    """TIMESTAMP(3) as Flink's JSON format reads it: no zone, fraction truncated to milliseconds."""
    if not isinstance(value, str):
        return None
    match = (_ISO if fmt == "ISO-8601" else _SQL).match(value.strip())
    if not match:
        return None
    y, mo, d, h, mi, s, frac = match.groups()
    try:
        millis = int((frac or "0")[:3].ljust(3, "0"))
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), millis * 1000)
    except ValueError:
        return None


def format_timestamp(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS.fff`, the format of run's output."""
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _convert(value: Any, flink_type: str) -> Any:
    """One JSON value to the column's type; raises ValueError where Flink's converter fails."""
    if value is None:
        return None
    t = flink_type.upper()
    if t.startswith(("STRING", "VARCHAR", "CHAR")):
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if t.startswith("BOOLEAN"):
        return value if isinstance(value, bool) else str(value).strip().lower() == "true"
    if t.startswith(_INTEGRAL):
        if isinstance(value, bool):
            raise ValueError("boolean")
        if isinstance(value, int):
            return value
        return int(str(value).strip())
    if t.startswith(_FRACTIONAL):
        if isinstance(value, bool):
            raise ValueError("boolean")
        return float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    return value


@dataclass
class DecodeStats:
    events: int = 0
    problems: Counter = field(default_factory=Counter)

    def add(self, problem: str) -> None:
        self.problems[problem] += 1


@dataclass(frozen=True)
class JsonMetric:
    """A metric reading `path` of JSON string column `column` as `type` (to count bad values)."""

    column: str
    path: str
    type: str


def decode(lines: Iterator[str], source: Source, json_metrics: tuple[JsonMetric, ...] = (),
           stats: DecodeStats | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yields (line number, row) for every line Flink's source would emit, in file order."""
    stats = stats if stats is not None else DecodeStats()
    required = [c.name for c in source.columns if not c.nullable]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        stats.events += 1
        try:
            event = json.loads(line)
        except ValueError:
            stats.add("not_json")
            continue
        if not isinstance(event, dict):
            stats.add("not_json")
            continue
        row: dict[str, Any] = {}
        for column in source.columns:
            value = event.get(column.name)
            if column.name == source.event_time:
                row[column.name] = parse_timestamp(value, source.timestamp_format)
                if row[column.name] is None:
                    stats.add("bad_event_time")
                continue
            if column.type.upper().startswith("TIMESTAMP"):
                row[column.name] = parse_timestamp(value, source.timestamp_format)
                continue
            try:
                row[column.name] = _convert(value, column.type)
            except (ValueError, TypeError, OverflowError):
                row[column.name] = None
                stats.add("bad_value")
        if any(row[name] is None for name in required):
            stats.add("missing_required")
        for metric in json_metrics:
            if _bad_json_value(row.get(metric.column), metric):
                stats.add("bad_metric_value")
                break
        yield number, row


def _bad_json_value(text: Any, metric: JsonMetric) -> bool:
    if text is None:
        return False
    try:
        document = json.loads(text)
    except ValueError:
        return True
    value = _json_path(document, metric.path)
    if value is None or isinstance(value, (dict, list)):
        return False
    try:
        _convert(value, metric.type)
    except (ValueError, TypeError):
        return True
    return False


def _json_path(document: Any, path: str) -> Any:
    """The simple paths models use: $.a.b (no wildcards or filters)."""
    node = document
    for part in path.lstrip("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def read_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        yield from handle


def late_events(rows: list[tuple[int, dict[str, Any]]], event_time: str, delay: timedelta,
                slice_end, counted=lambda row: True) -> int:
    """How many rows arrive after the watermark (max earlier event time minus the delay) closed
    their window slice. `slice_end(ts)` gives the end of the slice an event time falls in."""
    watermark: datetime | None = None
    late = 0
    for _, row in rows:
        ts = row.get(event_time)
        if ts is None:
            continue
        if watermark is not None and slice_end(ts) - timedelta(milliseconds=1) <= watermark and counted(row):
            late += 1
        candidate = ts - delay
        watermark = candidate if watermark is None or candidate > watermark else watermark
    return late


def raw_rows(lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, {field: JSON text}) for every line that is a JSON object: what Trino's Kafka
    connector gives when each field is mapped to VARCHAR (strings as they are, anything else as its
    JSON text). Malformed lines decode to nothing there either."""
    for number, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        yield number, {k: (v if isinstance(v, str) or v is None else json.dumps(v, separators=(",", ":")))
                       for k, v in event.items()}
