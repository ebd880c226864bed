"""target/manifest.json: the contract between compile and deploy / diff / reconcile.

Versioned; deterministic (no timestamps, sorted keys), so that an unchanged project writes a
byte-identical manifest. Fingerprints separate what decides the running job's state from what
does not (see `state_fingerprint`).
"""

from __future__ import annotations

import hashlib
import json

import orjson
from dataclasses import dataclass
from typing import Any

from . import __version__, functions
from .dialects import FLINK
from .flink import late_event_columns, sink_columns
from .profiles import PLACEHOLDER
from .project import ResolvedModel

MANIFEST_VERSION = 1


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _digest(value: Any) -> str:
    return sha256(json.dumps(value, sort_keys=True, separators=(",", ":")))


def state_fingerprint(model: ResolvedModel, functions_mode: str = "java") -> str:
    """What Flink's state for this job depends on: source, filter, window, keys, aggregates, and how
    top_n lists are kept (SM_TOP_N's accumulator, or the built-in Top-N pipeline's operators).

    Built from parsed ASTs, so formatting, comments and descriptions never change it.
    """
    return _digest(state_parts(model, functions_mode))


def state_parts(model: ResolvedModel, functions_mode: str = "java") -> dict[str, Any]:
    parts = {
        "source": {"topic": model.source.topic, "event_time": model.source.event_time},
        "filter": model.filter["flink"].sql(FLINK, copy=False) if model.filter["flink"] is not None else None,
        "window": {"type": model.spec.window.type, **model.window_ms},
        "keys": list(model.spec.group_by),
        "aggregates": [
            {
                "name": m.name,
                "kind": m.spec.kind,
                "value": m.flink_sql,
                "where": m.flink_where_sql,
                "n": m.n if m.spec.kind == "top_n" else None,
            }
            for m in model.metrics
        ],
    }
    if model.spec.late_events is not None:
        parts["late_events"] = model.spec.late_events.table
    if any(m.spec.kind == "top_n" for m in model.metrics):
        parts["top_n_state"] = functions.TOP_N_STATE if functions_mode == "java" else "window Top-N pipeline"
    return parts


@dataclass(frozen=True)
class CompiledModel:
    model: ResolvedModel
    flink_sql: str
    trino_sql: str | None
    flink_path: str
    trino_path: str | None
    functions: str = "java"  # the target's flink.functions

    def manifest_entry(self) -> dict[str, Any]:
        m = self.model
        state = state_parts(m, self.functions)
        env_vars = sorted(set(match.group(1) for match in PLACEHOLDER.finditer(self.flink_sql)))
        return {
            "name": m.name,
            "description": m.spec.description,
            "file": m.path,
            "spec_checksum": m.checksum,
            "macros": list(m.macros),
            "source": {"name": m.source.name, "topic": m.source.topic, "consumer_group": m.consumer_group,
                       "event_time": m.source.event_time, "watermark_delay_ms": m.watermark_ms},
            "window": {"type": m.spec.window.type, **{f"{k}_ms": v for k, v in sorted(m.window_ms.items())}},
            "group_by": list(m.spec.group_by),
            "sink": {
                "table": m.spec.sink.table,
                "columns": [{"name": n, "type": t, "nullable": nullable} for n, t, nullable in sink_columns(m)],
                "partition_by": list(m.spec.sink.partition_by),
                "properties": dict(sorted(m.spec.sink.properties.items())),
            },
            "metrics": [{"name": x.name, "kind": x.spec.kind, "type": x.sink_type} for x in m.metrics],
            "late_events": {"table": m.spec.late_events.table,
                            "columns": [{"name": n, "type": t} for n, t in late_event_columns(m)]}
            if m.spec.late_events else None,
            "flink": {"path": self.flink_path, "sha256": sha256(self.flink_sql), "pipeline_name": m.name},
            "trino": {"path": self.trino_path, "sha256": sha256(self.trino_sql)} if self.trino_sql else None,
            "state_fingerprint": _digest(state),
            "state": state,
            "accept_state_reset": m.spec.accept_state_reset,
            "env_vars": env_vars,
        }


def build_manifest(target_name: str, compiled: list[CompiledModel], files: dict[str, str],
                   macro_checksums: dict[str, str]) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "generated_by": f"streammetrics {__version__}",
        "target": target_name,
        "files": dict(sorted(files.items())),
        "macros": dict(sorted(macro_checksums.items())),
        "models": {c.model.name: c.manifest_entry() for c in sorted(compiled, key=lambda c: c.model.name)},
    }


def dump(manifest: dict[str, Any]) -> str:
    """Indented, sorted keys: byte-identical for an unchanged project, readable in review.
    orjson: the standard library's encoder is pure Python when indenting (~0.4 s for 1,000 models)."""
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
