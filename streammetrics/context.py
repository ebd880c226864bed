"""One object per invocation: project root, target, and the operations the CLI exposes.

The CLI builds a Context and calls one method per command; nothing here prints (results are
returned as data and rendered by cli.py), and nothing is global.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import CompileFailed, ErrorCollector, Location
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

    def _compile_model(self, model, target: Target) -> CompiledModel:
        flink_path = f"{model.name}.flink.sql"
        trino_sql = compile_trino(model, target)
        return CompiledModel(model, compile_flink(model, target), trino_sql, flink_path,
                             f"{model.name}.trino.sql" if trino_sql else None)

    def _check_catalogs(self, project: Project, target: Target) -> None:
        errors = ErrorCollector()
        for model in project.models.values():
            catalog = model.spec.sink.table.split(".")[0]
            if catalog != target.catalog.name:
                errors.add(Location(model.path), f"model '{model.name}' writes to catalog '{catalog}', but the "
                           f"target's catalog is '{target.catalog.name}'",
                           f"use sink table {target.catalog.name}.<database>.<table> or rename the catalog in profiles.yml")
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
