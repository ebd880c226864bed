"""Typed model specifications: what a user may write in models/*.yml.

Structural validation only (types, required keys, unknown keys, enumerations); references between
objects (source names, columns, macros, SQL fragments) are checked by `project.py`, which knows
where every value sits in its file.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

_UNITS_MS = {
    "millisecond": 1, "ms": 1, "second": 1000, "s": 1000, "sec": 1000, "minute": 60_000, "min": 60_000,
    "m": 60_000, "hour": 3_600_000, "h": 3_600_000, "day": 86_400_000, "d": 86_400_000,
}
_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([A-Za-z]+?)s?\s*$")


def parse_interval_ms(text: str) -> int:
    """'15 minutes' -> 900000. Raises ValueError with a message a user can act on."""
    match = _INTERVAL_RE.match(str(text))
    unit = match and match.group(2).lower()
    if not match or unit not in _UNITS_MS:
        raise ValueError(
            f"'{text}' is not an interval; write a whole number and a unit, e.g. '15 minutes', "
            "'30 seconds', '1 hour' (units: millisecond, second, minute, hour, day)"
        )
    value = int(match.group(1)) * _UNITS_MS[unit]
    if value <= 0:
        raise ValueError(f"'{text}' must be longer than zero")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Column(Strict):
    name: str = Field(pattern=IDENTIFIER)
    type: str
    nullable: bool = True
    description: str = ""


class Source(Strict):
    name: str = Field(pattern=IDENTIFIER)
    description: str = ""
    topic: str
    consumer_group: str | None = None
    format: Literal["json"] = "json"
    timestamp_format: Literal["ISO-8601", "SQL"] = "ISO-8601"
    startup_mode: Literal["group-offsets", "earliest-offset", "latest-offset"] = "group-offsets"
    columns: list[Column] = Field(min_length=1)
    event_time: str
    watermark_delay: str


WindowType = Literal["tumbling", "hopping", "cumulating", "session"]


class Window(Strict):
    type: WindowType
    size: str | None = None
    slide: str | None = None
    step: str | None = None
    offset: str | None = None
    gap: str | None = None


MetricKind = Literal["count", "count_distinct", "sum", "avg", "min", "max", "expression", "top_n"]


class Metric(Strict):
    name: str = Field(pattern=IDENTIFIER)
    kind: MetricKind
    description: str = ""
    column: str | None = None
    json_path: str | None = None
    type: str | None = None
    sql: str | None = None
    where: str | None = None
    n: int | None = Field(default=None, ge=1, le=100)
    tolerance: float | None = Field(default=None, ge=0)

    @field_validator("json_path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$"):
            raise ValueError(f"JSON path '{value}' must start with '$', e.g. '$.duration_ms'")
        return value


    @property
    def json_type(self) -> str:
        """The type a json_path value is read as: `type`, else DOUBLE for sum/avg, else STRING."""
        return (self.type or ("DOUBLE" if self.kind in ("sum", "avg") else "STRING")).upper()


TABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"


class LateEvents(Strict):
    """Where events the window dropped as late are written (an Iceberg table: the source's columns and
    the watermark that made the event late)."""

    table: str = Field(pattern=TABLE_NAME)
    description: str = ""


class Sink(Strict):
    table: str = Field(pattern=TABLE_NAME)
    description: str = ""
    partition_by: list[str] = Field(default_factory=list)
    properties: dict[str, str] = Field(default_factory=dict)


class Model(Strict):
    name: str = Field(pattern=IDENTIFIER)
    description: str = ""
    source: str
    consumer_group: str | None = None
    filter: str | None = None
    window: Window
    group_by: list[str] = Field(default_factory=list)
    metrics: list[Metric] = Field(min_length=1)
    sink: Sink
    late_events: LateEvents | None = None
    checkpoint_interval: str | None = None  # default: the target's setting, else 1 minute
    parallelism: int | None = Field(default=None, ge=1)
    settings: dict[str, str] = Field(default_factory=dict)
    # Set by the author to accept that a change discards the running job's state (see `diff`).
    accept_state_reset: bool = False


class ModelFile(Strict):
    """One YAML file under models/: sources, models, or both."""

    version: Literal[1] = 1
    sources: list[Source] = Field(default_factory=list)
    models: list[Model] = Field(default_factory=list)
