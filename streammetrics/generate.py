"""Sample events for a source, deterministic for a seed.

Sources shaped like a state-change stream (tenant_id, entity_type, entity_id, from_state, to_state,
triggered_by, metadata) get realistic sessions: several tenants, sessions moving through states,
completions carrying duration_ms and turn_count, agents and intents, other entity types, and a few
late and malformed events. Any other source gets plausible values per column type.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Iterator

from .spec import Source

SESSION_COLUMNS = {"tenant_id", "entity_type", "entity_id", "from_state", "to_state", "triggered_by", "metadata"}
START = datetime(2026, 12, 4, 9, 0, 0)
AGENTS = ["planner", "retriever", "sql-writer", "summarizer", "chart-builder", "router", "critic"]
INTENTS = ["revenue_trend", "churn_drivers", "top_customers", "forecast", "anomaly_check", "data_quality"]
TENANTS = ["acme", "globex", "initech", "umbrella"]


def _ts(value: datetime, fmt: str) -> str:
    text = value.strftime("%Y-%m-%dT%H:%M:%S" if fmt == "ISO-8601" else "%Y-%m-%d %H:%M:%S")
    return f"{text}.{value.microsecond // 1000:03d}"


def generate(source: Source, count: int, seed: int = 7) -> Iterator[str]:
    rng = random.Random(seed)
    names = {c.name for c in source.columns}
    if SESSION_COLUMNS <= names:
        yield from _sessions(source, count, rng)
    else:
        yield from _generic(source, count, rng)


def _sessions(source: Source, count: int, rng: random.Random) -> Iterator[str]:
    """Sessions start every few seconds; each emits its transitions; lines are written in arrival
    order (event time plus up to 5 s of jitter), with ~0.5% late arrivals and ~0.5% malformed lines."""
    pending: list[tuple[datetime, dict]] = []
    session = 0
    clock = START
    ts_col = source.event_time
    while len(pending) < count:
        session += 1
        clock += timedelta(milliseconds=rng.randint(500, 6000))
        tenant = rng.choice(TENANTS)
        user = f"user-{rng.randint(1, 40):03d}@{tenant}"
        agent, intent = rng.choice(AGENTS), rng.choice(INTENTS)
        states = ["created", "active"]
        turns = rng.randint(1, 12)
        states += ["waiting", "active"] * rng.randint(0, 2)
        states.append(rng.choices(["completed", "abandoned", "failed"], weights=[70, 20, 10])[0])
        at = clock
        entity_type = "session_phase" if rng.random() < 0.85 else rng.choice(["agent_task", "workflow_step"])
        for previous, state in zip([None] + states, states):
            at += timedelta(milliseconds=rng.randint(200, 90_000))
            metadata: dict = {"agent_id": rng.choice(AGENTS) if rng.random() < 0.3 else agent}
            if state in ("active", "created"):
                metadata["intent"] = intent
            if state == "completed":
                metadata.update(duration_ms=int((at - clock).total_seconds() * 1000), turn_count=turns)
                if rng.random() < 0.03:
                    metadata["duration_ms"] = "abc"  # a value of the wrong type: counts as NULL
            event = {
                "event_id": f"evt-{session:07d}-{len(pending) % 1000:03d}",
                "event_type": "state_change",
                "tenant_id": tenant,
                "entity_type": entity_type,
                "entity_id": f"sess-{session:07d}",
                "from_state": previous,
                "to_state": state,
                "triggered_by": user if state != "failed" else "system",
                "metadata": json.dumps(metadata, separators=(",", ":")),
                ts_col: at,
            }
            arrival = at + timedelta(milliseconds=rng.randint(0, 5000))
            if rng.random() < 0.005:
                arrival += timedelta(minutes=rng.randint(20, 40))  # arrives after its window closed
            pending.append((arrival, event))
    pending.sort(key=lambda item: item[0])
    for arrival, event in pending[:count]:
        roll = rng.random()
        event = dict(event)
        event[ts_col] = _ts(event[ts_col], source.timestamp_format)
        if roll < 0.002:
            yield '{"event_id": "broken", "tenant_id": '  # not JSON
            continue
        if roll < 0.004:
            event.pop("tenant_id")
        elif roll < 0.005:
            event[ts_col] = "yesterday"
        elif roll < 0.006:
            event["metadata"] = "not json"
        yield json.dumps(event, separators=(",", ":"))


def _generic(source: Source, count: int, rng: random.Random) -> Iterator[str]:
    at = START
    for i in range(count):
        at += timedelta(milliseconds=rng.randint(10, 3000))
        event: dict = {}
        for column in source.columns:
            t = column.type.upper()
            if column.name == source.event_time or t.startswith("TIMESTAMP"):
                event[column.name] = _ts(at, source.timestamp_format)
            elif t.startswith(("INT", "BIGINT", "SMALLINT", "TINYINT")):
                event[column.name] = rng.randint(0, 1000)
            elif t.startswith(("DOUBLE", "FLOAT", "DECIMAL")):
                event[column.name] = round(rng.uniform(0, 100), 3)
            elif t.startswith("BOOLEAN"):
                event[column.name] = rng.random() < 0.5
            else:
                event[column.name] = f"{column.name}-{rng.randint(1, 8)}"
        yield json.dumps(event, separators=(",", ":"))
