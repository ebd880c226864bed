"""The session analytics spec's formulas, by hand in plain Python (independent of the project's SQL):
what the job must write for a list of events in arrival order."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
DELAY = timedelta(seconds=30)


def _arrivals(lines: list[dict | str]):
    """(event, window start, late, watermark before it) per event with a parseable time, in arrival
    order; the watermark advances after every event (max event time - delay), and an event is late
    when that watermark had already closed its 15-minute window. Malformed lines are skipped."""
    watermark = None
    for item in lines:
        if isinstance(item, str):  # a raw line: JSON, or malformed
            try:
                item = json.loads(item)
            except ValueError:
                continue
            if not isinstance(item, dict):
                continue
        try:
            ts = datetime.strptime(str(item.get("timestamp")), "%Y-%m-%dT%H:%M:%S.%f")
        except ValueError:
            continue
        start = ts.replace(minute=ts.minute - ts.minute % 15, second=0, microsecond=0)
        late = watermark is not None and start + WINDOW - timedelta(milliseconds=1) <= watermark
        yield item, start, late, watermark
        watermark = max(watermark, ts - DELAY) if watermark else ts - DELAY


def _aggregated(item: dict) -> bool:
    """What the window aggregates apart from lateness: session_phase events with a tenant_id."""
    return item.get("tenant_id") is not None and item.get("entity_type") == "session_phase"


def expected_late_events(lines: list[dict | str]) -> dict[str, datetime]:
    """event_id -> the watermark it arrived after, for the session_phase events (with tenant_id and a
    time) whose 15-minute window the watermark had already closed: what the late-events table holds."""
    return {item["event_id"]: watermark for item, _, late, watermark in _arrivals(lines) if late and _aggregated(item)}


def expected_rows(lines: list[dict | str]) -> list[dict]:
    """One row per (window, tenant); late events (per-event watermark rule), malformed lines, events
    without tenant_id or with an unparseable time, and other entity types are left out."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for item, start, late, _ in _arrivals(lines):
        if late or not _aggregated(item):
            continue
        groups[(start, item["tenant_id"])].append(item)

    def meta(e: dict) -> dict:
        try:
            value = json.loads(e["metadata"]) if e.get("metadata") else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def avg(values: list) -> float | None:
        numbers = [float(v) for v in values if isinstance(v, (int, float))]
        return sum(numbers) / len(numbers) if numbers else None

    def top(values: list) -> list[str]:
        counts = Counter(v for v in values if v is not None)
        return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:5]

    rows = []
    for (start, tenant), events in sorted(groups.items()):
        sessions = {e["entity_id"] for e in events}
        completed = sum(1 for e in events if e["to_state"] == "completed")
        rows.append({
            "window_start": start.strftime("%Y-%m-%d %H:%M:%S.000"),
            "window_end": (start + WINDOW).strftime("%Y-%m-%d %H:%M:%S.000"),
            "tenant_id": tenant,
            "total_sessions": len(sessions),
            "avg_duration_ms": avg([meta(e).get("duration_ms") for e in events]),
            "avg_turns": avg([meta(e).get("turn_count") for e in events]),
            "completion_rate": completed / max(len(sessions), 1),
            "unique_users": len({e["triggered_by"] for e in events}),
            "top_agents": top([meta(e).get("agent_id") for e in events]),
            "top_intents": top([meta(e).get("intent") for e in events]),
        })
    return rows
