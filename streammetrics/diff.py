"""`diff`: what a change to the project does to the running jobs, between two git revisions.

Both revisions are compiled into temporary directories (the base from `git archive`, the head from
`git archive` or, by default, the working tree as it is); nothing under the project is written.
The manifests are the contract: per model, the sink schema, the state parts (source, filter,
window, keys, aggregates) and the state fingerprint decide the classification; the compiled SQL,
parsed with sqlglot and regenerated without comments, decides "no change" vs "metadata only" and
gives the diffs (and, through sqlglot's AST diff, what changed in the job query).

Results are frozen dataclasses (`DiffReport`, `ModelDiff`, `SinkChange`); `diffrender.py` turns
them into text, markdown (a pull-request comment) or JSON.

Exit codes: 0 nothing needs attention; 4 (EXIT_NEEDS_ACK) a model is incompatible or destructive to
its sink and does not set `accept_state_reset: true`; 1 errors (bad ref, compile failure).

The CLI command is `diff` in cli.py.
"""

from __future__ import annotations

import difflib
import io
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.diff import Insert, Remove, Update
from sqlglot.diff import diff as ast_diff
from sqlglot.errors import SqlglotError

from .context import Context
from .dialects import FLINK, TRINO
from .errors import CompileFailed, StreamMetricsError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NEEDS_ACK = 4

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"  # the model, between revisions
# Effect on the running job.
NO_CHANGE, METADATA, COMPATIBLE = "no change", "metadata only", "state compatible"
PARTIAL, INCOMPATIBLE, NEW_JOB, JOB_REMOVED = "partially compatible", "incompatible", "new job", "job removed"
SEVERITY = {NO_CHANGE: 0, METADATA: 1, NEW_JOB: 2, JOB_REMOVED: 3, COMPATIBLE: 4, PARTIAL: 5, INCOMPATIBLE: 6}

NON_DISTINCT_KINDS = ("count", "sum", "avg", "min", "max", "expression")


class DiffError(StreamMetricsError):
    """A revision could not be read or compiled; `lines` are shown one per line."""

    def __init__(self, message: str, lines: tuple[str, ...] = ()):
        self.message, self.lines = message, lines
        super().__init__("\n".join((message, *lines)))


@dataclass(frozen=True)
class SinkChange:
    kind: str  # column_added|column_removed|column_renamed|type_widened|type_narrowed|type_changed|
    #            nullability_relaxed|nullability_tightened|columns_reordered|partitioning_changed|
    #            properties_changed|table_changed
    column: str | None
    old: str | None
    new: str | None
    destructive: bool

    def describe(self) -> str:
        c, o, n = self.column, self.old, self.new
        text = {
            "column_added": f"column {c} added ({n})",
            "column_removed": f"column {c} removed ({o}): its data is no longer written",
            "column_renamed": f"column {o} renamed to {n} (removed + added: the history stays under {o})",
            "type_widened": f"column {c} type widened {o} → {n}",
            "type_narrowed": f"column {c} type narrowed {o} → {n}",
            "type_changed": f"column {c} type changed {o} → {n} (not a promotion the table allows)",
            "nullability_relaxed": f"column {c} becomes nullable",
            "nullability_tightened": f"column {c} becomes NOT NULL (existing rows may hold NULL)",
            "columns_reordered": f"column order changed: {o} → {n} (the INSERT writes by position)",
            "partitioning_changed": f"partitioning changed: {o or 'none'} → {n or 'none'}",
            "properties_changed": f"table property {c}: {o if o is not None else '(unset)'} → {n if n is not None else '(unset)'}",
            "table_changed": f"sink table changed {o} → {n} (the new table starts empty)",
        }[self.kind]
        return text + (" [destructive]" if self.destructive else "")


@dataclass(frozen=True)
class ModelDiff:
    name: str
    change: str  # added | removed | changed | unchanged
    effect: str  # NO_CHANGE ... INCOMPATIBLE, NEW_JOB, JOB_REMOVED
    reasons: tuple[str, ...]
    sink_changes: tuple[SinkChange, ...]
    deploy_action: str
    cutoff: str | None  # partially compatible: which windows are partial
    needs_ack: bool  # incompatible, or destructive to the sink
    acknowledged: bool  # the head model sets accept_state_reset: true
    flink_diff: str
    trino_diff: str
    file: str | None
    notes: tuple[str, ...] = ()

    @property
    def attention(self) -> bool:
        return self.needs_ack and not self.acknowledged

    @property
    def destructive(self) -> bool:
        return any(c.destructive for c in self.sink_changes)


@dataclass(frozen=True)
class DiffReport:
    base: str  # "origin/main (1a2b3c4d5e)"
    head: str  # "working tree" or "REF (sha)"
    models: tuple[ModelDiff, ...]  # attention first, then by severity, then by name
    errors: tuple[str, ...] = ()  # set when a revision failed: message, then path:line:col lines
    macros_edited: tuple[str, ...] = ()  # macros whose text differs (the models show what that changed)

    @property
    def changed(self) -> tuple[ModelDiff, ...]:
        return tuple(m for m in self.models if m.change != UNCHANGED)

    @property
    def attention(self) -> tuple[ModelDiff, ...]:
        return tuple(m for m in self.models if m.attention)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_ERROR
        return EXIT_NEEDS_ACK if self.attention else EXIT_OK


@dataclass(frozen=True)
class DiffOutcome:
    text: str
    exit_code: int
    report: DiffReport


def run_diff(root: Path, base: str, head: str | None, fmt: str, *, target: str | None = None) -> DiffOutcome:
    """Compile `root` at `base` and at `head` (None: the working tree) and render the comparison."""
    from .diffrender import render

    try:
        report = diff_revisions(Path(root), base, head, target)
    except DiffError as exc:
        report = DiffReport(base, head or "working tree", (), (exc.message, *exc.lines))
    return DiffOutcome(render(report, fmt), report.exit_code, report)


def diff_revisions(root: Path, base: str, head: str | None, target: str | None = None) -> DiffReport:
    root = root.resolve()
    base_sha = resolve_ref(root, base)
    head_sha = resolve_ref(root, head) if head is not None else None
    with tempfile.TemporaryDirectory(prefix="streammetrics-diff-") as tmp:
        work = Path(tmp)
        old, old_macros = compile_revision(root, base_sha, f"base {base}", work / "base", target)
        new, new_macros = compile_revision(root, head_sha, f"head {head}" if head else "head (working tree)",
                                           work / "head", target)
    macros = tuple(sorted(m for m in set(old_macros) | set(new_macros) if old_macros.get(m) != new_macros.get(m)))
    models = [compare(name, old.get(name), new.get(name)) for name in sorted(set(old) | set(new))]
    models.sort(key=lambda m: (not m.attention, -SEVERITY[m.effect], m.name))
    head_label = f"{head} ({head_sha[:10]})" if head_sha else "working tree"
    return DiffReport(f"{base} ({base_sha[:10]})", head_label, tuple(models), (), macros)


# --- revisions -------------------------------------------------------------------------------

def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise DiffError("git is not installed (diff compares git revisions)") from exc


def resolve_ref(root: Path, ref: str) -> str:
    done = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode != 0:
        inside = _git(root, "rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0:
            raise DiffError(f"{root} is not inside a git repository; diff compares git revisions")
        raise DiffError(f"'{ref}' is not a commit in {root}; use a branch, tag or sha "
                        "(in CI, fetch the history: actions/checkout with fetch-depth: 0)")
    return done.stdout.decode().strip()


def _export(root: Path, sha: str, dest: Path, label: str) -> Path:
    """The project directory as of `sha`, extracted under `dest` (the repository is not touched)."""
    top = _git(root, "rev-parse", "--show-toplevel").stdout.decode().strip()
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.decode().strip()
    done = _git(Path(top), "archive", "--format=tar", sha, *(["--", prefix] if prefix else []))
    if done.returncode != 0:
        raise DiffError(f"{label}: cannot read the project at {sha[:10]}: {done.stderr.decode().strip()}")
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest / prefix


@dataclass(frozen=True)
class Snapshot:
    """One compiled model at one revision: its manifest entry, SQL and descriptive metadata."""

    entry: dict[str, Any]
    flink_sql: str
    trino_sql: str
    metadata: dict[str, Any]


def compile_revision(root: Path, sha: str | None, label: str, work: Path,
                     target: str | None) -> tuple[dict[str, Snapshot], dict[str, str]]:
    """The project at `sha` (None: the working tree) compiled into `work`: snapshots, macro checksums."""
    project = _export(root, sha, work / "src", label) if sha else root
    output = work / "out"
    try:
        result = Context(project, target, output_dir=output).compile()
    except CompileFailed as exc:
        raise DiffError(f"{label}: the project does not compile ({len(exc.errors)} error(s))",
                        tuple(str(e) for e in exc.errors)) from exc
    except StreamMetricsError as exc:
        raise DiffError(f"{label}: {exc}") from exc
    manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    specs = {c.model.name: c.model for c in result.compiled}
    snapshots = {}
    for name, entry in manifest["models"].items():
        trino = entry.get("trino")
        snapshots[name] = Snapshot(
            entry, (output / entry["flink"]["path"]).read_text(encoding="utf-8"),
            (output / trino["path"]).read_text(encoding="utf-8") if trino else "",
            _metadata(specs[name], entry))
    return snapshots, manifest.get("macros", {})


def _metadata(model: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """What a reader sees but the job does not: descriptions, the file, the acknowledgement flag."""
    spec = model.spec
    meta: dict[str, Any] = {"model description": spec.description, "sink description": spec.sink.description,
                            "source description": model.source.description, "model file": entry["file"],
                            "accept_state_reset": spec.accept_state_reset}
    meta.update({f"description of metric {m.spec.name}": m.spec.description for m in model.metrics})
    meta.update({f"description of source column {c.name}": c.description for c in model.source.columns})
    return meta


# --- SQL ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Script:
    shown: tuple[str, ...]  # pretty, without comments: what the diffs show
    core: tuple[str, ...]  # also without COMMENT clauses (descriptions): what "no change" compares
    statements: tuple[exp.Expr, ...]  # parsed, COMMENT clauses removed


@lru_cache(maxsize=512)
def parse_script(text: str, engine: str) -> Script:
    dialect = FLINK if engine == "flink" else TRINO
    try:
        statements = tuple(s for s in sqlglot.parse(text, read=dialect) if s is not None)
    except SqlglotError:  # never expected for compiled SQL; fall back to the text
        lines = tuple(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--"))
        return Script(lines, lines, ())
    shown = tuple(s.sql(dialect, pretty=True, comments=False) + ";" for s in statements)
    for statement in statements:
        for node in list(statement.find_all(exp.CommentColumnConstraint, exp.SchemaCommentProperty)):
            (node.parent if isinstance(node.parent, exp.ColumnConstraint) else node).pop()
    core = tuple(s.sql(dialect, comments=False) for s in statements)
    return Script(shown, core, statements)


def unified(old: tuple[str, ...], new: tuple[str, ...], path: str) -> str:
    a = "\n\n".join(old).splitlines() if old else []
    b = "\n\n".join(new).splitlines() if new else []
    return "\n".join(difflib.unified_diff(a, b, f"base/{path}" if a else "/dev/null",
                                          f"head/{path}" if b else "/dev/null", lineterm=""))


def _statement_key(statement: exp.Expr) -> str:
    if isinstance(statement, exp.Set) and statement.expressions and isinstance(statement.expressions[0].this, exp.EQ):
        return f"setting {statement.expressions[0].this.this.name}"
    if isinstance(statement, exp.Create):
        table = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        kind = str(statement.args.get("kind") or "").upper()
        temporary = any(isinstance(p, exp.TemporaryProperty) for p in statement.find_all(exp.TemporaryProperty))
        what = {"CATALOG": "catalog", "DATABASE": "database"}.get(kind, "source table" if temporary else "sink table")
        return f"{what} {table.sql(FLINK)}"
    if isinstance(statement, exp.Insert):
        return "job query"
    return f"{type(statement).__name__.lower()} statement"


def _options(statement: exp.Expr) -> dict[str, str]:
    props = statement.args.get("properties")
    return {p.this.name: p.args["value"].sql(FLINK) for p in (props.expressions if props else ())
            if isinstance(p, exp.Property) and isinstance(p.this, exp.Literal)}


def _columns(statement: exp.Expr) -> dict[str, str]:
    schema = statement.this if isinstance(statement.this, exp.Schema) else None
    return {e.name: e.sql(FLINK) for e in (schema.expressions if schema else ())}


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def job_changes(old: Script, new: Script) -> list[str]:
    """What changed in the Flink script, statement by statement, from the ASTs."""
    olds = {_statement_key(s): s for s in old.statements}
    news = {_statement_key(s): s for s in new.statements}
    changes = []
    for key in list(olds) + [k for k in news if k not in olds]:
        if key.startswith("sink table"):  # reported as sink schema changes
            continue
        a, b = olds.get(key), news.get(key)
        if a is None or b is None:
            value = (b or a).expressions[0].this.expression.sql(FLINK) if key.startswith("setting ") else ""
            changes.append(f"{key} {'added' if a is None else 'removed'}{f' ({value})' if value else ''}")
        elif a.sql(FLINK, comments=False) == b.sql(FLINK, comments=False):
            continue
        elif isinstance(a, exp.Set):
            changes.append(f"{key}: {a.expressions[0].this.expression.sql(FLINK)} → {b.expressions[0].this.expression.sql(FLINK)}")
        elif isinstance(a, exp.Create):
            for what, x, y in (("option", _options(a), _options(b)), ("column", _columns(a), _columns(b))):
                for name in list(x) + [n for n in y if n not in x]:
                    if x.get(name) != y.get(name):
                        changes.append(f"{key} {what} {name}: {_short(x.get(name) or '(none)', 60)} → {_short(y.get(name) or '(none)', 60)}")
            if (_options(a), _columns(a)) == (_options(b), _columns(b)):
                changes.append(f"{key} changed")
        else:
            changes.extend(f"{key}: {edit}" for edit in ast_edits(a, b))
    return changes


def ast_edits(a: exp.Expr, b: exp.Expr, limit: int = 4) -> list[str]:
    """sqlglot's AST diff, reduced to the inserted, removed and updated expressions."""
    edits = []
    changes = ast_diff(a, b, delta_only=True, dialect=FLINK)
    touched = {id(e.expression) for e in changes if isinstance(e, (Insert, Remove))}
    for edit in changes:
        if isinstance(edit, (Insert, Remove)) and any(id(p) in touched for p in _ancestors(edit.expression)):
            continue  # inside a larger inserted or removed expression, which is shown
        if isinstance(edit, Insert):
            edits.append(f"added {_short(edit.expression.sql(FLINK))}")
        elif isinstance(edit, Remove):
            edits.append(f"removed {_short(edit.expression.sql(FLINK))}")
        elif isinstance(edit, Update):
            edits.append(f"{_short(edit.source.sql(FLINK), 60)} → {_short(edit.target.sql(FLINK), 60)}")
    more = len(edits) - limit
    return edits[:limit] + ([f"{more} more AST edit(s)"] if more > 0 else []) or ["changed"]


# --- classification -----------------------------------------------------------------------------

def compare(name: str, old: Snapshot | None, new: Snapshot | None) -> ModelDiff:
    if new is None:
        assert old is not None
        return ModelDiff(name, REMOVED, JOB_REMOVED, ("the model is gone from the project",), (),
                         "stop job (the sink table and its data are kept)", None, False, False,
                         _diff(old, None, "flink"), _diff(old, None, "trino"), old.entry["file"])
    entry = new.entry
    if old is None:
        sink = entry["sink"]
        return ModelDiff(name, ADDED, NEW_JOB, (f"new job writing {sink['table']} ({len(sink['columns'])} columns)",),
                         (), "create job", None, False, entry["accept_state_reset"],
                         _diff(None, new, "flink"), _diff(None, new, "trino"), entry["file"])
    fo, fn = parse_script(old.flink_sql, "flink"), parse_script(new.flink_sql, "flink")
    to, tn = parse_script(old.trino_sql, "trino"), parse_script(new.trino_sql, "trino")
    sink_changes = tuple(sink_changes_between(old.entry, entry))
    meta = [f"{k}: {_short(repr(old.metadata.get(k)), 50)} → {_short(repr(new.metadata.get(k)), 50)}"
            for k in old.metadata if k in new.metadata and old.metadata[k] != new.metadata[k]]
    cutoff = None
    if fo.core == fn.core and not sink_changes and old.entry["state_fingerprint"] == entry["state_fingerprint"]:
        if to.core != tn.core:
            meta.append("the reconciliation (Trino) query changed; the Flink job did not")
        if not meta and fo.shown == fn.shown and to.shown == tn.shown:
            effect, reasons, action = NO_CHANGE, (), "none"
        else:
            effect, reasons, action = METADATA, tuple(meta or ["comments or descriptions in the compiled SQL"]), "no-op"
    else:
        effect, state_reasons, added = state_effect(old.entry, entry)
        job = job_changes(fo, fn)
        if state_reasons:  # the state parts say it better than the job query's AST edits
            job = [j for j in job if not j.startswith("job query")]
        reasons = tuple(state_reasons + job + meta)
        if effect == COMPATIBLE:
            action = "upgrade from savepoint"
        elif effect == PARTIAL:
            action, cutoff = "upgrade from savepoint", partial_cutoff(entry, added)
            if added:
                action += f" (new metric partial until deploy + {duration(_horizon_ms(entry))})"
        else:
            action = "restart from empty state"
    needs_ack = effect == INCOMPATIBLE or any(c.destructive for c in sink_changes)
    acknowledged = bool(entry["accept_state_reset"])
    notes: tuple[str, ...] = ()
    if any(c.destructive for c in sink_changes) and effect != INCOMPATIBLE:
        action += "; migrate the sink table"
    if needs_ack:
        action += " (reset accepted: accept_state_reset)" if acknowledged else " (needs accept_state_reset: true)"
    elif acknowledged:
        notes = ("accept_state_reset: true is set but nothing here needs it; remove it so that a later reset "
                 "is not accepted silently",)
    return ModelDiff(name, UNCHANGED if effect == NO_CHANGE else CHANGED, effect, reasons, sink_changes, action,
                     cutoff, needs_ack, acknowledged, unified(fo.shown, fn.shown, entry["flink"]["path"]),
                     unified(to.shown, tn.shown, (entry.get("trino") or {}).get("path") or f"{name}.trino.sql"),
                     entry["file"], notes)


def _diff(old: Snapshot | None, new: Snapshot | None, engine: str) -> str:
    snap = new or old
    assert snap is not None
    a, b = (("" if s is None else s.flink_sql if engine == "flink" else s.trino_sql) for s in (old, new))
    if not (a or b):
        return ""
    path = snap.entry[engine]["path"] if snap.entry.get(engine) else f"{snap.entry['name']}.{engine}.sql"
    return unified(parse_script(a, engine).shown if a else (), parse_script(b, engine).shown if b else (), path)


def _aggregates(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    types = {m["name"]: m["type"] for m in entry["metrics"]}
    return {a["name"]: {**a, "type": types.get(a["name"])} for a in entry["state"]["aggregates"]}


def _signature(aggregate: dict[str, Any]) -> tuple:
    return tuple(aggregate.get(k) for k in ("kind", "value", "where", "n", "type"))


def _ancestors(node: exp.Expr):
    while node.parent is not None:
        node = node.parent
        yield node


def _value_change(old: str, new: str) -> str:
    """The aggregate's expression change; for long expressions, sqlglot's AST edits say where."""
    if len(old) <= 60 and len(new) <= 60:
        return f"{old} → {new}"
    try:
        return "; ".join(ast_edits(sqlglot.parse_one(old, read=FLINK), sqlglot.parse_one(new, read=FLINK), 2))
    except SqlglotError:
        return f"{_short(old, 70)} → {_short(new, 70)}"


@lru_cache(maxsize=1024)
def _is_distinct(kind: str, value: str) -> bool:
    if kind not in NON_DISTINCT_KINDS:
        return True  # count_distinct, top_n
    try:
        return sqlglot.parse_one(value, read=FLINK).find(exp.Distinct) is not None
    except SqlglotError:
        return "DISTINCT" in value.upper()


def _shown_part(value: Any) -> str:
    if isinstance(value, dict):  # a window: "tumbling size 15 min"; a source: "topic=..., event_time=..."
        if "type" in value:
            rest = [f"{k} {duration(v) if isinstance(v, int) else v}" for k, v in sorted(value.items()) if k != "type"]
            return " ".join([str(value["type"]), *rest])
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return "(none)" if value is None else str(value)


def state_effect(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """(effect, reasons, added metrics) from the manifests' state parts and sink types."""
    so, sn = old["state"], new["state"]
    breaking, gentle = [], []
    for part, label in (("source", "source"), ("filter", "filter"), ("window", "window"), ("keys", "group keys")):
        if so[part] != sn[part]:
            breaking.append(f"{label} changed: {_shown_part(so[part])} → {_shown_part(sn[part])}")
    old_types = {c["name"]: c["type"] for c in old["sink"]["columns"]}
    for c in new["sink"]["columns"]:
        if c["name"] in sn["keys"] and c["name"] in so["keys"] and old_types.get(c["name"]) != c["type"]:
            breaking.append(f"group key {c['name']} type changed {old_types.get(c['name'])} → {c['type']}")
    ao, an = _aggregates(old), _aggregates(new)
    added = [n for n in an if n not in ao]
    removed = [n for n in ao if n not in an]
    renamed = {}
    for r in removed:
        twin = next((a for a in added if _signature(an[a]) == _signature(ao[r]) and a not in renamed.values()), None)
        if twin:
            renamed[r] = twin
    for name in ao:
        if name in an and _signature(ao[name]) != _signature(an[name]):
            a, b = ao[name], an[name]
            what = "; ".join(([f"type {a['type']} → {b['type']}"] if a["type"] != b["type"] else [])
                             + ([_value_change(a["value"], b["value"])] if a["value"] != b["value"] else []))
            for key in ("kind", "where", "n"):
                if a[key] != b[key]:
                    what += f"; {key} {a[key]} → {b[key]}"
            breaking.append(f"aggregate {name} changed ({what}): its accumulated state no longer applies")
    for name in added:
        agg = an[name]
        origin = next((f" (renamed from {r})" for r, t in renamed.items() if t == name), "")
        if _is_distinct(agg["kind"], agg["value"]):
            breaking.append(f"new {agg['kind']} aggregate {name}{origin} is distinct or top-N: it cannot start mid-window")
        else:
            gentle.append(f"new aggregate {name}{origin} ({agg['kind']}) starts from zero in the windows open at the deploy")
    for name in removed:
        gentle.append(f"aggregate {name} removed{f' (renamed to {renamed[name]})' if name in renamed else ''}: its state is dropped")
    kept_old = [n for n in ao if n in an]
    if kept_old != [n for n in an if n in ao]:
        breaking.append("aggregates reordered: the accumulators are positional")
    if breaking:
        return INCOMPATIBLE, breaking + gentle, added
    if gentle:
        return PARTIAL, gentle, added
    return COMPATIBLE, [], added


def _horizon_ms(entry: dict[str, Any]) -> int:
    window = entry["window"]
    size = window.get("size_ms") or window.get("gap_ms") or 0
    return size + entry["source"]["watermark_delay_ms"]


def partial_cutoff(entry: dict[str, Any], added: list[str]) -> str | None:
    if not added:
        return None
    names = ", ".join(added)
    window, delay = entry["window"], entry["source"]["watermark_delay_ms"]
    if window["type"] == "session":
        return (f"sessions open at the deploy start {names} from zero; sessions that start after the deploy "
                f"are complete (they close at least {duration(window['gap_ms'])} + {duration(delay)} later)")
    size = window["size_ms"]
    return (f"windows open at the restart (window_end > deploy time) start {names} from zero; windows closing after "
            f"deploy time + {duration(size)} + {duration(delay)} (window size + watermark delay) are complete")


def duration(ms: int | None) -> str:
    if ms is None:
        return "?"
    parts, rest = [], int(ms)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000), ("ms", 1)):
        if rest >= size:
            parts.append(f"{rest // size} {unit}")
            rest %= size
    return " ".join(parts) or "0 s"


# --- sink schema ----------------------------------------------------------------------------------

_INTS = {"TINYINT": 1, "SMALLINT": 2, "INT": 3, "INTEGER": 3, "BIGINT": 4}
_FLOATS = {"FLOAT": 1, "REAL": 1, "DOUBLE": 2, "DOUBLE PRECISION": 2}


def _decimal(t: str) -> tuple[int, int] | None:
    if not t.startswith(("DECIMAL", "NUMERIC", "DEC")):
        return None
    inner = t[t.find("(") + 1: t.rfind(")")] if "(" in t else "10,0"
    p, _, s = inner.partition(",")
    return int(p), int(s or 0)


def _string_length(t: str) -> float | None:
    if t == "STRING":
        return float("inf")
    if t.startswith(("VARCHAR", "CHAR")):
        return float(t[t.find("(") + 1: t.rfind(")")]) if "(" in t else 1.0
    return None


def type_change(old: str, new: str) -> str | None:
    """None when equal; else 'widened', 'narrowed' or 'changed' (a change no sink table allows)."""
    o, n = ("".join(t.upper().split()).replace("DOUBLEPRECISION", "DOUBLE PRECISION") for t in (old, new))
    if o == n:
        return None
    for ranks in (_INTS, _FLOATS):
        if o in ranks and n in ranks:
            return None if ranks[o] == ranks[n] else ("widened" if ranks[n] > ranks[o] else "narrowed")
    do, dn = _decimal(o), _decimal(n)
    if do and dn:
        if do[1] == dn[1]:
            return "widened" if dn[0] > do[0] else "narrowed"
        return "narrowed" if dn[0] - dn[1] < do[0] - do[1] or dn[1] < do[1] else "changed"
    lo, ln = _string_length(o), _string_length(n)
    if lo and ln:
        return "widened" if ln > lo else "narrowed"
    if lo and (n in _INTS or n in _FLOATS or dn):
        return "narrowed"
    return "changed"


def sink_changes_between(old: dict[str, Any], new: dict[str, Any]) -> list[SinkChange]:
    so, sn = old["sink"], new["sink"]
    changes = []
    if so["table"] != sn["table"]:
        changes.append(SinkChange("table_changed", None, so["table"], sn["table"], True))
    oc = {c["name"]: c for c in so["columns"]}
    nc = {c["name"]: c for c in sn["columns"]}
    removed = [n for n in oc if n not in nc]
    added = [n for n in nc if n not in oc]
    ao, an = _aggregates(old), _aggregates(new)
    for r in list(removed):
        twin = next((a for a in added if r in ao and a in an and _signature(ao[r]) == _signature(an[a])), None)
        if twin:
            changes.append(SinkChange("column_renamed", twin, r, twin, True))
            removed.remove(r)
            added.remove(twin)
    changes += [SinkChange("column_removed", r, oc[r]["type"], None, True) for r in removed]
    changes += [SinkChange("column_added", a, None, nc[a]["type"] + ("" if nc[a]["nullable"] else " NOT NULL"), False)
                for a in added]
    for name, column in nc.items():
        if name not in oc:
            continue
        kind = type_change(oc[name]["type"], column["type"])
        if kind:
            changes.append(SinkChange(f"type_{kind}", name, oc[name]["type"], column["type"], kind != "widened"))
        if oc[name]["nullable"] != column["nullable"]:
            tightened = not column["nullable"]
            changes.append(SinkChange("nullability_tightened" if tightened else "nullability_relaxed", name,
                                      "NULL" if tightened else "NOT NULL", "NOT NULL" if tightened else "NULL", tightened))
    common_old, common_new = [n for n in oc if n in nc], [n for n in nc if n in oc]
    if common_old != common_new:
        changes.append(SinkChange("columns_reordered", None, ", ".join(common_old), ", ".join(common_new), True))
    if so["partition_by"] != sn["partition_by"]:
        changes.append(SinkChange("partitioning_changed", None, ", ".join(so["partition_by"]),
                                  ", ".join(sn["partition_by"]), True))
    po, pn = so["properties"], sn["properties"]
    for key in sorted(set(po) | set(pn)):
        if po.get(key) != pn.get(key):
            changes.append(SinkChange("properties_changed", key, po.get(key), pn.get(key), False))
    return changes
