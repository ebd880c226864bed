"""Jinja macros from macros/*.sql, dispatched per engine.

A fragment rendered for engine E resolves a macro name N to `E__N` when the project defines it and
to `N` otherwise (dbt's adapter dispatch, reduced to what we need). Rendering uses StrictUndefined,
and macros do no I/O: the environment exposes no filesystem or environment access to fragments.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jinja2

from .errors import ErrorCollector, Location, display_path

ENGINES = ("flink", "trino")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_MACRO_DEF = re.compile(r"{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(")


class FragmentError(Exception):
    """A fragment failed to render; `line`/`col` are inside the fragment unless `location` is set."""

    def __init__(self, message: str, hint: str, line: int = 1, col: int = 1, location: Location | None = None):
        super().__init__(message)
        self.message, self.hint, self.line, self.col, self.location = message, hint, line, col, location


@dataclass(frozen=True)
class MacroDef:
    name: str
    path: str
    line: int
    source: str  # the macro's own text, for checksums


@dataclass
class MacroLibrary:
    root: Path
    definitions: dict[str, MacroDef] = field(default_factory=dict)
    _envs: dict[str, jinja2.Environment] = field(default_factory=dict)
    _templates: dict[tuple[str, str], jinja2.Template] = field(default_factory=dict)
    _rendered: dict[tuple[str, str], tuple[str, set[str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, macro_dir: Path, root: Path, errors: ErrorCollector) -> "MacroLibrary":
        library = cls(root=root)
        files = sorted(macro_dir.glob("*.sql")) if macro_dir.is_dir() else []
        sources = {}
        for path in files:
            text = path.read_text(encoding="utf-8")
            shown = display_path(path, root)
            sources[path.name] = text
            library._index(text, shown, errors)
        for engine in ENGINES:
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(macro_dir),  # real filenames: tracebacks point at macro lines
                undefined=jinja2.StrictUndefined,
                autoescape=False,
                keep_trailing_newline=False,
            )
            env.globals.clear()  # no range(), lipsum(), dict() surprises: macros are pure SQL text
            modules = {}
            for name in sources:
                try:
                    modules[name] = env.get_template(name).module
                except jinja2.TemplateSyntaxError as exc:
                    if engine == ENGINES[0]:
                        errors.add(
                            Location(display_path(macro_dir / name, root), exc.lineno or 1, 1),
                            f"macro file has a Jinja syntax error: {exc.message}",
                            "fix the macro definition",
                        )
                except jinja2.TemplateError as exc:
                    if engine == ENGINES[0]:
                        errors.add(Location(display_path(macro_dir / name, root), 1, 1), str(exc), "fix the macro file")
            env.globals.update(library._dispatch(engine, modules))
            library._envs[engine] = env
        return library

    def _index(self, text: str, shown: str, errors: ErrorCollector) -> None:
        starts = [(m.group(1), text.count("\n", 0, m.start()) + 1, m.start()) for m in _MACRO_DEF.finditer(text)]
        for i, (name, line, offset) in enumerate(starts):
            end = starts[i + 1][2] if i + 1 < len(starts) else len(text)
            if name in self.definitions:
                first = self.definitions[name]
                errors.add(
                    Location(shown, line, 1),
                    f"macro '{name}' is defined twice (first at {first.path}:{first.line})",
                    "rename or remove one of the definitions",
                )
                continue
            self.definitions[name] = MacroDef(name, shown, line, text[offset:end])

    def _dispatch(self, engine: str, modules: dict[str, Any]) -> dict[str, Callable[..., Any]]:
        found: dict[str, Any] = {}
        for module in modules.values():
            for name in dir(module):
                if name in self.definitions:
                    found[name] = getattr(module, name)
        table = dict(found)
        prefix = f"{engine}__"
        for name, macro in found.items():
            if name.startswith(prefix):
                table[name[len(prefix):]] = macro
        return table

    def resolve_name(self, engine: str, name: str) -> str | None:
        """Which definition engine `engine` uses for `name` (None if undefined)."""
        if f"{engine}__{name}" in self.definitions:
            return f"{engine}__{name}"
        return name if name in self.definitions else None

    def render(self, text: str, engine: str, variables: dict[str, Any]) -> tuple[str, set[str]]:
        """Render one fragment; returns the SQL text and the names of the macros it called."""
        if "{" not in text:
            return text, set()
        key = (engine, text)
        if not variables and key in self._rendered:  # macros are pure: same text, same SQL
            return self._rendered[key]
        template = self._templates.get(key)
        env = self._envs[engine]
        if template is None:
            try:
                template = env.from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                raise FragmentError(f"Jinja syntax error: {exc.message}", "check the {{ }} and {% %} pairs", exc.lineno or 1) from None
            self._templates[key] = template
        try:
            rendered = template.render(**variables)
        except jinja2.UndefinedError as exc:
            raise self._undefined(exc, text) from None
        except jinja2.TemplateError as exc:
            raise FragmentError(f"template error: {exc}", "fix the fragment or the macro") from None
        except TypeError as exc:  # wrong number of macro arguments
            raise FragmentError(f"bad macro call: {exc}", "check the macro's parameters") from None
        result = rendered.strip(), self.called(text, engine)
        if not variables:
            self._rendered[key] = result
        return result

    def called(self, text: str, engine: str) -> set[str]:
        """The macros `text` calls for `engine`, and the macros those call (by name, transitively)."""
        found: set[str] = set()
        pending = [text]
        while pending:
            for name in _CALL.findall(pending.pop()):
                resolved = self.resolve_name(engine, name)
                if resolved and resolved not in found:
                    found.add(resolved)
                    pending.append(self.definitions[resolved].source.split("%}", 1)[-1])
        return found

    def _undefined(self, exc: jinja2.UndefinedError, text: str) -> FragmentError:
        message = str(exc.message or exc)
        name_match = re.search(r"'([^']+)' is undefined", message)
        name = name_match.group(1) if name_match else None
        # Jinja rewrites tracebacks so that frames point at template files and lines.
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            filename = frame.filename or ""
            if filename.endswith(".sql") and not filename.startswith("<"):
                macro = self._macro_at(Path(filename).name, frame.lineno or 1)
                location = None
                if macro:
                    location = Location(macro.path, frame.lineno or 1, 1)
                what = f"undefined variable '{name}'" if name else message
                return FragmentError(
                    f"{what} in macro '{macro.name if macro else filename}'",
                    "pass it as a macro argument or fix the spelling",
                    location=location,
                )
        if name:
            line, col = _find(text, name)
            if name in self.definitions or any(d.endswith(f"__{name}") for d in self.definitions):
                return FragmentError(f"'{name}' is not available for this engine", "define it without an engine prefix", line, col)
            known = ", ".join(sorted(n for n in self.definitions if "__" not in n)) or "none"
            return FragmentError(f"undefined macro or variable '{name}'", f"defined macros: {known}", line, col)
        return FragmentError(message, "fix the fragment")

    def _macro_at(self, filename: str, line: int) -> MacroDef | None:
        candidates = [d for d in self.definitions.values() if Path(d.path).name == filename and d.line <= line]
        return max(candidates, key=lambda d: d.line) if candidates else None


def _find(text: str, needle: str) -> tuple[int, int]:
    offset = text.find(needle)
    if offset < 0:
        return 1, 1
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col
