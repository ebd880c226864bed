"""Command line: thin. Each command builds a Context, makes one call, renders the result.

Errors: a StreamMetricsError prints as `Error: ...` lines (each `path:line:col: ...`) and exits 1;
anything unexpected prints one line and exits 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .context import Context
from .errors import CompileFailed, StreamMetricsError

EXIT_ERROR = 1
EXIT_INTERNAL = 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # one error handler for every command
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except CompileFailed as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            for error in exc.errors:
                err.print(Text.assemble(("Error: ", "red"), str(error)))
            err.print(f"{len(exc.errors)} error(s); nothing was written.")
            sys.exit(EXIT_ERROR)
        except StreamMetricsError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            err.print(Text.assemble(("Error: ", "red"), str(exc)))
            sys.exit(EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, see --debug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            err.print(Text.assemble(("Internal error: ", "red"),
                                    f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"))
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Project root: holds models/, macros/ and profiles.yml.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="streammetrics")
@click.pass_context
def main(ctx: click.Context, project_dir: Path, debug: bool) -> None:
    """streammetrics: declarative streaming metrics.

    Models in models/*.yml are compiled to Flink streaming SQL (the job) and a Trino query
    that recomputes the metrics from the raw events and reconciles them with the job's output.
    """
    ctx.obj = {"root": project_dir.resolve(), "debug": debug}


@main.command("compile")
@click.option("--select", "-s", multiple=True, metavar="MODEL", help="Compile only these models (repeatable).")
@click.option("--target", "-t", metavar="NAME", help="Target from profiles.yml (default: its default_target).")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Where to write (default: <project>/target).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@click.pass_context
def compile_command(ctx: click.Context, select: tuple[str, ...], target: str | None, output_dir: Path | None, quiet: bool) -> None:
    """Compile models to target/: <model>.flink.sql, <model>.trino.sql and manifest.json.

    Exit codes: 0 compiled, 1 errors in the project (each printed as path:line:col), 2 internal error.
    """
    started = time.perf_counter()
    context = Context(ctx.obj["root"], target, output_dir)
    result = context.compile(list(select) or None)
    elapsed = time.perf_counter() - started
    if not quiet:
        table = Table(title=f"Compiled for target '{result.target_name}'", title_justify="left")
        table.add_column("model")
        table.add_column("file")
        table.add_column("status")
        for written in result.written:
            shown = _shown(written.path, context.root)
            table.add_row(written.model, shown, "written" if written.changed else "unchanged")
        out.print(table)
    changed = sum(w.changed for w in result.written)
    out.print(f"Compiled {len(result.compiled)} model(s) in {elapsed:.2f} s: {changed} file(s) written, "
              f"{len(result.written) - changed} unchanged; manifest: {_shown(result.manifest_path, context.root)}")


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
