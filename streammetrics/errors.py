"""User-facing errors: every problem names `path:line:col`, what is wrong and how to fix it.

Loading and compiling collect all problems of a run into one `ErrorCollector`, so a user fixes
a whole batch of mistakes per edit instead of one at a time; `CompileFailed` carries them to the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class ProjectError:
    location: Location
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class StreamMetricsError(Exception):
    """An error the CLI prints as one line (or a few) without a traceback."""


class CompileFailed(StreamMetricsError):
    def __init__(self, errors: list[ProjectError]):
        self.errors = sorted(errors, key=lambda e: (e.location, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class ErrorCollector:
    errors: list[ProjectError] = field(default_factory=list)

    def add(self, location: Location, message: str, hint: str = "") -> None:
        error = ProjectError(location, message, hint)
        if error not in self.errors:
            self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            raise CompileFailed(self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)


def display_path(path: Path, root: Path | None = None) -> str:
    """Paths relative to the project root read better in errors and in the manifest."""
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)
