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
    if report.late_rows is not None:
        out.print(f"Late-events table: {len(report.late_rows)} event(s) the window dropped (those that pass the "
                  "model's filter), written by the job's late-events INSERT")
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


EXIT_REFUSED = 4


@main.command("deploy")
@click.option("--target", "-t", metavar="NAME", required=True, help="A cluster target from profiles.yml (e.g. stack).")
@click.option("--select", "-s", multiple=True, metavar="MODEL", help="Deploy only these models (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print the plan (create / no-op / upgrade / resume / refused) and change nothing.")
@click.option("--allow-state-reset", is_flag=True,
              help="Start from empty state when a change makes the old state unusable (windows around the deploy diverge).")
@click.pass_context
def deploy_command(ctx: click.Context, target: str, select: tuple[str, ...], dry_run: bool, allow_state_reset: bool) -> None:
    """Compile and deploy models to a Flink cluster through its SQL Gateway, idempotently.

    An unchanged model is a no-op; a changed one is upgraded by stop-with-savepoint and restart from
    that savepoint when its state fingerprint is unchanged, and refused when the change makes the
    old state unusable. A deploy interrupted half-way can be re-run and converges.

    Exit codes: 0 done (or nothing to do), 4 a model was refused, 1 errors (project, unreachable cluster).
    """
    from .deploy import deploy

    context = Context(ctx.obj["root"], target)
    result = context.compile(list(select) or None)
    _, target_settings = context.load_target()
    with err.status("deploying", spinner="dots") as status:
        outcome = deploy(list(result.compiled), target_settings, dry_run=dry_run, allow_state_reset=allow_state_reset,
                         progress=lambda message: status.update(message))
    table = Table(title=("Deploy plan (dry run: nothing changed)" if dry_run else "Deploy") + f" for target '{target}'",
                  title_justify="left")
    for name in ("model", "action", "why", "job"):
        table.add_column(name, overflow="fold")
    started = dict(outcome.applied)
    for item in outcome.plan:
        table.add_row(item.model, item.action, item.reason, started.get(item.model) or item.job_id or "")
    out.print(table)
    if any(item.action == "refused" for item in outcome.plan):
        sys.exit(EXIT_REFUSED)


@main.command("reconcile")
@click.option("--target", "-t", metavar="NAME", required=True, help="A target with a Trino (e.g. stack).")
@click.option("--select", "-s", "model", required=True, metavar="MODEL", help="The model to reconcile.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
              help="Cut-off (UTC): judge only windows closed before it (window end + watermark delay). Default: now.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.pass_context
def reconcile_command(ctx: click.Context, target: str, model: str, until, fmt: str) -> None:
    """Recompute MODEL's metrics on Trino from the raw events in Kafka and compare them with what the
    Flink job wrote to Iceberg.

    Exit codes: 0 every closed window matches, 3 mismatches, 1 errors (project, Trino unreachable).
    """
    from datetime import datetime, timezone

    from . import reconcile as rc

    context = Context(ctx.obj["root"], target)
    result = context.compile([model])
    _, target_settings = context.load_target()
    cutoff = until or datetime.now(timezone.utc).replace(tzinfo=None)
    with err.status("querying Trino", spinner="dots"):
        report = rc.reconcile(result.compiled[0], target_settings, cutoff)
    if fmt == "json":
        click.echo(rc.to_json(report))
    elif fmt == "markdown":
        click.echo(rc.to_markdown(report))
    else:
        c = report.check
        out.print(f"{report.model}: {c.windows_checked} window(s) closed before {cutoff:%Y-%m-%d %H:%M:%S} checked, "
                  f"{c.windows_matched} matched, {c.windows_mismatched} mismatched")
        for mismatch in c.mismatches[:100]:
            out.print(f"  {mismatch.describe()}")
        if report.explained_by_lateness:
            out.print(f"  explained by late events (they match when late events count): {len(report.explained_by_lateness)} window(s)")
        if report.duplicate_messages:
            out.print(f"  the topic holds {report.duplicate_messages} duplicated message(s) (redelivery)")
    if report.check.mismatches:
        sys.exit(EXIT_MISMATCH)


@main.command("diff")
@click.option("--base", required=True, metavar="REF", help="Git revision to compare against, e.g. origin/main.")
@click.option("--head", metavar="REF", help="Git revision to compare (default: the working tree, uncommitted edits included).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="markdown: one pull-request comment body.")
@click.option("--target", "-t", metavar="NAME", help="Target from profiles.yml (default: its default_target).")
@click.pass_context
def diff_command(ctx: click.Context, base: str, head: str | None, fmt: str, target: str | None) -> None:
    """Compare the project compiled at two git revisions: per model the SQL diffs, sink schema changes and
    the effect on the running job (metadata only, state compatible, partially compatible, incompatible).

    Exit codes: 0 nothing needs attention, 4 an incompatible or sink-destructive change the model does not
    acknowledge (accept_state_reset: true), 1 errors (bad ref, compile failure), 2 internal.
    """
    from .diff import run_diff

    outcome = run_diff(ctx.obj["root"], base, head, fmt, target=target)
    click.echo(outcome.text, nl=not outcome.text.endswith("\n"))  # not rich: markdown holds [...]
    ctx.exit(outcome.exit_code)


@main.command("functions")
@click.option("--copy-to", type=click.Path(path_type=Path), metavar="PATH",
              help="Also copy the jar there (a file, or a directory to keep its name).")
def functions_command(copy_to: Path | None) -> None:
    """Build (if needed) the jar of streammetrics' Flink functions (SM_JSON_VALUES, SM_TOP_N) and print
    its path. For a remote cluster: upload it where the SQL Gateway can read it and set the target's
    flink.functions_jar to that location. The jar's name carries the hash of its sources."""
    import shutil

    from . import functions

    jar = functions.jar_path(on_build=lambda: err.print("Building the Flink functions jar (javac)..."))
    if copy_to is not None:
        destination = copy_to / jar.name if copy_to.is_dir() else copy_to
        shutil.copyfile(jar, destination)
        jar = destination
    click.echo(str(jar))


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
