"""One object per invocation: project root, target, and the operations the CLI exposes.

The CLI builds a Context and calls one method per command; nothing here prints (results are
returned as data and rendered by cli.py), and nothing is global.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from .errors import CompileFailed, ErrorCollector
from .flink import compile_flink
from .manifest import CompiledModel, build_manifest, dump, sha256
from .profiles import Target, load_target
from .project import Project, load_project
from .trino import compile_trino


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    model: str
    kind: str
    changed: bool


@dataclass(frozen=True)
class CompileResult:
    project: Project
    target_name: str
    compiled: tuple[CompiledModel, ...]
    written: tuple[WrittenFile, ...]
    manifest_path: Path


@dataclass
class Context:
    root: Path
    target_name: str | None = None
    output_dir: Path | None = None

    @property
    def target_dir(self) -> Path:
        return self.output_dir or self.root / "target"

    def load_target(self) -> tuple[str, Target]:
        return load_target(self.root / "profiles.yml", self.target_name, self.root)

    def compile(self, select: list[str] | None = None) -> CompileResult:
        target_name, target = self.load_target()
        project = load_project(self.root, select)
        self._check_catalogs(project, target)
        compiled = [self._compile_model(model, target) for model in project.models.values()]
        written = self._write(compiled)
        macro_checksums = {name: sha256(d.source) for name, d in project.macros.definitions.items()}
        manifest_path = self.target_dir / "manifest.json"
        manifest = build_manifest(target_name, compiled, project.files, macro_checksums)
        written.append(self._write_file(manifest_path, dump(manifest), "-", "manifest"))
        return CompileResult(project, target_name, tuple(compiled), tuple(written), manifest_path)

    def run(self, model: str, events: Path | None = None, output: Path | None = None, count: int = 20_000,
            progress: Callable[[str], None] = lambda _: None) -> "RunReport":
        """Compile `model`, run it on Flink in-process over `events` (generated when None), reconcile."""
        return _run_model(self, model, events, output, count, progress)

    def _compile_model(self, model, target: Target) -> CompiledModel:
        flink_path = f"{model.name}.flink.sql"
        trino_sql = compile_trino(model, target)
        return CompiledModel(model, compile_flink(model, target), trino_sql, flink_path,
                             f"{model.name}.trino.sql" if trino_sql else None, target.flink.functions)

    def _check_catalogs(self, project: Project, target: Target) -> None:
        errors = ErrorCollector()
        for model in project.models.values():
            tables = [("", "sink table", model.spec.sink.table, model.sink_location)]
            if model.spec.late_events is not None:
                tables.append((" late events", "late_events table", model.spec.late_events.table, model.late_location))
            for what, key, table, location in tables:
                catalog = table.split(".")[0]
                if catalog != target.catalog.name:
                    errors.add(location, f"model '{model.name}' writes{what} to catalog '{catalog}', but the "
                               f"target's catalog is '{target.catalog.name}'",
                               f"use {key} {target.catalog.name}.<database>.<table> or rename the catalog in profiles.yml")
        if errors:
            raise CompileFailed(errors.errors)

    def _write(self, compiled: list[CompiledModel]) -> list[WrittenFile]:
        written = []
        for c in sorted(compiled, key=lambda c: c.model.name):
            written.append(self._write_file(self.target_dir / c.flink_path, c.flink_sql, c.model.name, "flink"))
            if c.trino_sql and c.trino_path:
                written.append(self._write_file(self.target_dir / c.trino_path, c.trino_sql, c.model.name, "trino"))
        return written

    @staticmethod
    def _write_file(path: Path, text: str, model: str, kind: str) -> WrittenFile:
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)  # atomic: an interrupted compile never leaves half a file
        return WrittenFile(path, model, kind, old != text)


@dataclass(frozen=True)
class RunReport:
    model: str
    events_path: Path
    events: int
    problems: dict[str, int]
    late: int
    rows: tuple[dict[str, Any], ...]
    flink_seconds: float
    output_path: Path | None
    check: Any  # duckcheck.CheckResult, or None for models without a reconciliation query
    late_rows: tuple[dict[str, Any], ...] | None = None  # the late-events INSERT's rows (models with late_events)


def _run_model(context: Context, model_name: str, events_path: Path | None, output_path: Path | None,
               generate_count: int, progress: Callable[[str], None]) -> RunReport:
    from . import duckcheck, functions, generate, runner
    from . import events as ev
    from .errors import StreamMetricsError

    progress("compiling")
    result = context.compile([model_name])
    compiled = next(c for c in result.compiled if c.model.name == model_name)
    _, target = context.load_target()
    model = compiled.model
    if events_path is None:
        events_path = context.target_dir / "events" / f"{model.source.name}.jsonl"
        progress(f"generating {generate_count:,} sample events into {events_path}")
        events_path.parent.mkdir(parents=True, exist_ok=True)
        with events_path.open("w", encoding="utf-8") as handle:
            for line in generate.generate(model.source, generate_count):
                handle.write(line + "\n")
    elif not events_path.is_file():
        raise StreamMetricsError(f"{events_path}: no such events file")
    progress(f"reading {events_path}")
    stats = ev.DecodeStats()
    json_metrics = tuple(
        ev.JsonMetric(m.spec.column, m.spec.json_path, m.spec.json_type) for m in model.metrics if m.spec.json_path
    )
    decoded = list(ev.decode(ev.read_lines(events_path), model.source, json_metrics, stats))
    late = ev.late_events(decoded, model.source.event_time, timedelta(milliseconds=model.watermark_ms),
                          _slice_end(model), counted=lambda row: _counted(model, row))
    if functions.JAR_PLACEHOLDER in compiled.flink_sql:
        functions.jar_path(on_build=lambda: progress("building streammetrics' Flink functions (javac, first run only)"))
    progress("running the Flink job (in-process mini-cluster)")
    flink = runner.run_flink(compiled, events_path,
                             on_row=lambda n: progress(f"running the Flink job: {n} row(s) out"))
    if output_path is not None:
        runner.write_jsonl(flink.rows, output_path)
    check = None
    if compiled.trino_sql is not None:
        progress("reconciling with the batch recomputation (Trino query on DuckDB)")
        check = duckcheck.reconcile(compiled, target, list(ev.raw_rows(ev.read_lines(events_path))), flink.rows)
    return RunReport(model.name, events_path, stats.events, dict(stats.problems), late, tuple(flink.rows),
                     flink.seconds, output_path, check,
                     tuple(flink.late_rows) if flink.late_rows is not None else None)


def _slice_end(model) -> Callable[[datetime], datetime]:
    """The end of the window slice an event time falls in (Flink drops an event once it closed)."""
    w = model.window_ms
    size = {"tumbling": w.get("size"), "hopping": w.get("slide"), "cumulating": w.get("step")}.get(model.spec.window.type)
    offset = w.get("offset", 0)
    epoch = datetime(1970, 1, 1)

    def end(ts: datetime) -> datetime:
        if size is None:  # session windows: the gap after the event
            return ts + timedelta(milliseconds=w["gap"])
        ms = (ts - epoch) // timedelta(milliseconds=1)
        return ts + timedelta(milliseconds=size - (ms - offset) % size)

    return end


def _counted(model, row) -> bool:
    """Rows the window would aggregate apart from lateness and the model's filter: NOT NULL columns present."""
    return all(row.get(c.name) is not None for c in model.source.columns if not c.nullable)
