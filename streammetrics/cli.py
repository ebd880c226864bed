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

# Not a terminal (CI logs, pipes): wide enough that tables of sink rows do not fold.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
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
                                    f"{type(exc).__name__}: {_short(exc)} (run with --debug for the traceback)"))
            sys.exit(EXIT_INTERNAL)


def _short(exc: Exception) -> str:
    """First line and root cause of a long (e.g. Java) error message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by:")]
    first = next((line for line in lines if not line.startswith(":") and "An error occurred while calling" not in line), "")
    return "; ".join(dict.fromkeys(p for p in (first, causes[-1] if causes else "") if p)) or type(exc).__name__


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


EXIT_MISMATCH = 3


@main.command("run")
@click.option("--select", "-s", "model", required=True, metavar="MODEL", help="The model to run.")
@click.option("--events", type=click.Path(dir_okay=False, path_type=Path),
              help="Events file, one JSON event per line (the topic's message format). Default: generated sample events.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the sink rows here as JSON lines.")
@click.option("--count", type=click.IntRange(1), default=20_000, show_default=True,
              help="How many sample events to generate without --events.")
@click.option("--target", "-t", metavar="NAME", help="Target from profiles.yml (default: its default_target).")
@click.option("--rows", "max_rows", type=click.IntRange(0), default=20, show_default=True, help="Sink rows to print.")
@click.pass_context
def run_command(ctx: click.Context, model: str, events: Path | None, output: Path | None, count: int,
                target: str | None, max_rows: int) -> None:
    """Run MODEL on Flink in-process over an events file, then reconcile its output.

    The compiled Flink SQL runs unchanged on a local mini-cluster (PyFlink); only the connectors
    change: the Kafka source reads the events file, the sink returns rows here. Replays are
    deterministic: the watermark advances with every event, and events behind it whose window is
    already closed are dropped as late. The generated Trino reconciliation query then runs on DuckDB
    over the same events and the job's output.

    Exit codes: 0 every closed window matches, 3 mismatches found, 1 errors (project, events file), 2 internal.
    """
    context = Context(ctx.obj["root"], target)
    started = time.perf_counter()
    with err.status("starting", spinner="dots") as status:
        def progress(message: str) -> None:
            status.update(f"{message} [{time.perf_counter() - started:.0f} s]")

        report = context.run(model, events, output, count, progress)
    _print_run(report, max_rows)
    if report.check is not None and report.check.mismatches:
        sys.exit(EXIT_MISMATCH)


def _print_run(report, max_rows: int) -> None:
    rows = report.rows
    more = f" (first {max_rows})" if len(rows) > max_rows else ""
    table = Table(title=f"{report.model}: {len(rows)} sink row(s){more}", title_justify="left")
    columns = list(rows[0]) if rows else []
    for name in columns:
        table.add_column(name, overflow="fold", justify="right" if isinstance(rows[0][name], (int, float)) else "left")
    for row in rows[:max_rows]:
        table.add_row(*[_cell(row[c]) for c in columns])
    if max_rows:
        out.print(table)
    problems = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(report.problems.items())) or "none"
    out.print(f"Events: {report.events:,} read from {report.events_path}; bad events (kept going): {problems}; "
              f"late events dropped: {report.late}")
    written = f"; written to {report.output_path}" if report.output_path else ""
    out.print(f"Flink: {len(rows)} row(s) in {report.flink_seconds:.1f} s{written}")
    check = report.check
    if check is None:
        out.print("Reconciliation: not available for this window type")
        return
    out.print(f"Reconciliation: {check.windows_checked} window(s) checked, {check.windows_matched} matched, "
              f"{check.windows_mismatched} mismatched")
    for mismatch in check.mismatches[:50]:
        err.print(Text.assemble(("MISMATCH ", "red"), mismatch.describe()))


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, str) and len(value) == 23 and value.endswith(".000") and value[4] == "-":
        return value[:-4]  # whole-second timestamps read better without the milliseconds
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
