"""Load a project: models/*.yml and macros/*.sql → validated, resolved models.

Everything a user can get wrong is found here, with its `path:line:col`, and all problems of a load
are reported together. The output (`Project`) holds typed specs plus, per engine, the parsed ASTs of
every SQL fragment; the generators in flink.py and trino.py never re-read YAML.
"""

from __future__ import annotations

import difflib
import functools
import re
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from pydantic import BaseModel, ValidationError
from sqlglot import exp
from sqlglot.errors import ParseError

from . import spec as S
from .dialects import FLINK
from .errors import ErrorCollector, Location, display_path
from .macros import ENGINES, FragmentError, MacroLibrary
from .yamlfile import YamlDocument, YamlSyntaxError, fragment_location, load_yaml

DIALECT = "flink"  # fragments are written in Flink SQL and transpiled per engine
NUMERIC = ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL")
INTEGRAL = ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT")


@dataclass(frozen=True)
class ResolvedMetric:
    spec: S.Metric
    sink_type: str  # a Flink type
    value: dict[str, exp.Expr | None]  # per engine: the per-event value (None for COUNT(*) / expressions)
    aggregate: dict[str, exp.Expr | None]  # per engine: the window aggregate (None for top_n)
    where: dict[str, exp.Expr | None]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def n(self) -> int:
        return self.spec.n or 5

    @functools.cached_property
    def flink_sql(self) -> str:
        """The Flink SQL of the aggregate (of the value, for top_n), generated once."""
        return (self.aggregate["flink"] or self.value["flink"]).sql(FLINK, copy=False)

    @functools.cached_property
    def flink_where_sql(self) -> str | None:
        return self.where["flink"].sql(FLINK, copy=False) if self.where["flink"] is not None else None

    def filtered_aggregate(self, engine: str) -> exp.Expr:
        """The window aggregate with the metric's `where` as FILTER (WHERE ...); a fresh tree."""
        aggregate = self.aggregate[engine].copy()
        if self.where[engine] is not None:
            aggregate = exp.Filter(this=aggregate, expression=exp.Where(this=self.where[engine].copy()))
        return aggregate


@dataclass(frozen=True)
class ResolvedModel:
    spec: S.Model
    source: S.Source
    path: str
    checksum: str
    window_ms: dict[str, int]  # size/slide/step/offset/gap in milliseconds
    watermark_ms: int
    filter: dict[str, exp.Expr | None]
    metrics: tuple[ResolvedMetric, ...]
    macros: tuple[str, ...]
    consumer_group: str
    sink_location: Location  # where sink.table is written, for errors found after loading
    late_location: Location | None = None  # where late_events.table is written

    @property
    def name(self) -> str:
        return self.spec.name

    def column_type(self, name: str) -> str:
        return next(c.type for c in self.source.columns if c.name == name)

    def column_nullable(self, name: str) -> bool:
        return next(c.nullable for c in self.source.columns if c.name == name)


@dataclass
class Project:
    root: Path
    models: dict[str, ResolvedModel]
    sources: dict[str, S.Source]
    macros: MacroLibrary
    files: dict[str, str] = field(default_factory=dict)  # shown path -> sha256 of its text


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_project(root: Path, select: list[str] | None = None) -> Project:
    errors = ErrorCollector()
    macros = MacroLibrary.load(root / "macros", root, errors)
    model_dir = root / "models"
    paths = sorted([*model_dir.glob("**/*.yml"), *model_dir.glob("**/*.yaml")]) if model_dir.is_dir() else []
    if not paths:
        errors.add(Location(display_path(model_dir, root)), "no model files found", "add models/<name>.yml files")
    loaded: list[tuple[YamlDocument, S.ModelFile]] = []
    files: dict[str, str] = {}
    for path in paths:
        shown = display_path(path, root)
        text = path.read_text(encoding="utf-8")
        files[shown] = _sha(text)
        try:
            doc = load_yaml(text, shown)
        except YamlSyntaxError as exc:
            errors.add(exc.location, exc.problem, "fix the YAML syntax (indentation, quotes, colons)")
            continue
        for location, key in doc.duplicate_keys:
            errors.add(location, f"key '{key}' appears twice in the same mapping", "remove one of them")
        parsed = _validate(doc, errors)
        if parsed is not None:
            loaded.append((doc, parsed))

    sources: dict[str, tuple[S.Source, YamlDocument, tuple[Any, ...]]] = {}
    model_entries: list[tuple[S.Model, YamlDocument, tuple[Any, ...]]] = []
    for doc, parsed in loaded:
        for i, source in enumerate(parsed.sources):
            where = ("sources", doc.original_index("sources", i))
            if source.name in sources:
                errors.add(doc.where(where + ("name",)), f"source '{source.name}' is defined twice "
                           f"(also in {sources[source.name][1].path})", "give each source a unique name")
                continue
            sources[source.name] = (source, doc, where)
            _check_source(source, doc, where, errors)
        for i, model in enumerate(parsed.models):
            model_entries.append((model, doc, ("models", doc.original_index("models", i))))

    seen_models: dict[str, YamlDocument] = {}
    seen_sinks: dict[str, str] = {}
    resolved: dict[str, ResolvedModel] = {}
    for model, doc, where in model_entries:
        if model.name in seen_models:
            errors.add(doc.where(where + ("name",)), f"model '{model.name}' is defined twice "
                       f"(also in {seen_models[model.name].path})", "model names must be unique; rename one")
            continue
        seen_models[model.name] = doc
        tables = [("sink", model.sink.table, "sink table", "two jobs must not write one table; pick another sink table")]
        if model.late_events is not None:
            tables.append(("late_events", model.late_events.table, "late-events table",
                           "give the late events a table of their own"))
        for key, table, what, hint in tables:
            if table.lower() in seen_sinks:
                errors.add(doc.where(where + (key, "table")), f"{what} '{table}' is already written by model "
                           f"'{seen_sinks[table.lower()]}'", hint)
            else:
                seen_sinks[table.lower()] = model.name
        if model.late_events is not None and model.window.type == "session":
            errors.add(doc.where(where + ("late_events",), key=True), "late_events is not supported for session "
                       "windows (a merging window has no fixed end to compare with the watermark)",
                       "remove late_events, or use a tumbling, hopping or cumulating window")
        if model.source not in sources:
            hint = _suggest(model.source, sources) or "define it under 'sources:' in a models/*.yml file"
            errors.add(doc.where(where + ("source",)), f"unknown source '{model.source}'", hint)
            continue
        if select and model.name not in select:
            continue
        result = _resolve_model(model, sources[model.source][0], doc, where, macros, errors)
        if result is not None:
            resolved[model.name] = result
    if select:
        for name in select:
            if name not in seen_models:
                errors.add(Location(display_path(model_dir, root)), f"--select '{name}' matches no model",
                           _suggest(name, seen_models) or f"models: {', '.join(sorted(seen_models))}")
    errors.raise_if_any()
    return Project(root=root, models=resolved, sources={k: v[0] for k, v in sources.items()}, macros=macros, files=files)


def _suggest(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def _validate(doc: YamlDocument, errors: ErrorCollector) -> S.ModelFile | None:
    if not isinstance(doc.data, dict):
        errors.add(doc.where(()), "a model file must be a mapping with 'sources:' and/or 'models:'",
                   "start the file with 'models:' or 'sources:'")
        return None
    try:
        return S.ModelFile.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors():
            _pydantic_error(doc, err, errors)
    return _pruned(doc)


def _pruned(doc: YamlDocument) -> S.ModelFile | None:
    """The file without the list items that failed validation, so that the rest can still be checked
    (all errors of a load are reported together). Its errors are already collected. Models that lost
    items are marked `partial` (their remaining items no longer match file positions)."""
    data = doc.data
    doc.index_map = {k: list(range(len(data.get(k) or []))) for k in ("models", "sources") if isinstance(data.get(k), list)}
    for _ in range(50):
        try:
            return S.ModelFile.model_validate(data)
        except ValidationError as exc:
            loc = tuple(exc.errors()[0]["loc"])
            cut = max((i for i, part in enumerate(loc) if isinstance(part, int)), default=None)
            if cut is None or cut < 2:  # a whole model or source is broken: skip it, keep the indices
                if len(loc) >= 2 and isinstance(loc[1], int):
                    data = _without(data, loc[:2])
                    doc.index_map[loc[0]].pop(loc[1])
                    continue
                return None
            data = _without(data, loc[: cut + 1])
            doc.partial.add((loc[0], doc.index_map[loc[0]][loc[1]]))
    return None


def _without(data: Any, loc: tuple[Any, ...]) -> Any:
    import copy

    data = copy.deepcopy(data)
    parent = _value_at(data, loc[:-1])
    if isinstance(parent, list) and isinstance(loc[-1], int) and loc[-1] < len(parent):
        parent[loc[-1]] = None
        parent[:] = [p for p in parent if p is not None]
    return data


def _pydantic_error(doc: YamlDocument, err: dict[str, Any], errors: ErrorCollector) -> None:
    loc = tuple(err["loc"])
    kind = err["type"]
    field_name = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = _suggest(str(field_name), allowed) or f"allowed keys: {', '.join(allowed)}"
        errors.add(doc.where(loc, key=True), f"unknown key '{field_name}'", hint)
    elif kind == "missing":
        errors.add(doc.where(loc[:-1]), f"missing required key '{field_name}'", f"add '{field_name}:'")
    elif kind == "literal_error" and field_name == "kind":
        value = _value_at(doc.data, loc)
        options = list(S.MetricKind.__args__)
        hint = _suggest(str(value), options) or f"use one of: {', '.join(options)}"
        errors.add(doc.where(loc), f"unknown metric kind '{value}'", hint)
    elif kind == "literal_error":
        errors.add(doc.where(loc), f"invalid value '{_value_at(doc.data, loc)}' for '{field_name}'",
                   err["msg"].replace("Input should be", "use"))
    elif kind == "string_pattern_mismatch":
        errors.add(doc.where(loc), f"invalid {field_name} '{_value_at(doc.data, loc)}'",
                   "use a catalog.database.table name" if field_name == "table" else "use letters, digits and _ (not starting with a digit)")
    else:
        errors.add(doc.where(loc), f"'{'.'.join(map(str, loc))}': {err['msg']}", "see README.md, 'Model files'")


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = S.ModelFile
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        inner = getattr(annotation, "__args__", (annotation,))
        nxt = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if nxt is None:
            return []
        model = nxt
    return list(model.model_fields)


def _check_source(source: S.Source, doc: YamlDocument, where: tuple[Any, ...], errors: ErrorCollector) -> None:
    names = [c.name for c in source.columns]
    for i, column in enumerate(source.columns):
        if names.index(column.name) != i:
            errors.add(doc.where(where + ("columns", i, "name")), f"column '{column.name}' is listed twice", "remove one")
        try:
            exp.DataType.build(column.type, dialect=DIALECT)
        except (ParseError, ValueError):
            errors.add(doc.where(where + ("columns", i, "type")), f"'{column.type}' is not a Flink SQL type",
                       "use e.g. STRING, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP(3)")
    if source.event_time not in names:
        errors.add(doc.where(where + ("event_time",)), f"event_time '{source.event_time}' is not a column of source "
                   f"'{source.name}'", _suggest(source.event_time, names) or "name one of its TIMESTAMP(3) columns")
    elif not source.columns[names.index(source.event_time)].type.upper().startswith("TIMESTAMP"):
        errors.add(doc.where(where + ("event_time",)), f"event_time '{source.event_time}' must be a TIMESTAMP column",
                   "declare it as TIMESTAMP(3)")
    _interval(source.watermark_delay, doc, where + ("watermark_delay",), errors)


def _interval(text: str | None, doc: YamlDocument, data_path: tuple[Any, ...], errors: ErrorCollector) -> int | None:
    if text is None:
        return None
    try:
        return S.parse_interval_ms(text)
    except ValueError as exc:
        errors.add(doc.where(data_path), "bad interval", str(exc))
        return None


def _window(model: S.Model, doc: YamlDocument, where: tuple[Any, ...], errors: ErrorCollector) -> dict[str, int]:
    window = model.window
    required = {"tumbling": ("size",), "hopping": ("size", "slide"), "cumulating": ("size", "step"), "session": ("gap",)}
    allowed = set(required[window.type]) | ({"offset"} if window.type != "session" else set())
    result: dict[str, int] = {}
    for key in ("size", "slide", "step", "offset", "gap"):
        value = getattr(window, key)
        path = where + ("window", key)
        if value is None:
            if key in required[window.type]:
                errors.add(doc.where(where + ("window",)), f"a {window.type} window needs '{key}'", f"add '{key}: 15 minutes'")
            continue
        if key not in allowed:
            errors.add(doc.where(path, key=True), f"'{key}' does not apply to a {window.type} window",
                       f"{window.type} windows take: {', '.join(sorted(allowed))}")
            continue
        ms = _interval(value, doc, path, errors)
        if ms is not None:
            result[key] = ms
    size, other = result.get("size"), result.get("slide") or result.get("step")
    if size and other and size % other:
        key = "slide" if window.type == "hopping" else "step"
        errors.add(doc.where(where + ("window", key)), f"window size must be a whole multiple of its {key}",
                   f"e.g. size 1 hour with {key} 15 minutes")
    return result


class _Fragments:
    """Renders, parses and checks the SQL fragments of one model for every engine."""

    def __init__(self, model: S.Model, source: S.Source, doc: YamlDocument, where: tuple[Any, ...],
                 macros: MacroLibrary, errors: ErrorCollector):
        self.model, self.source, self.doc, self.where = model, source, doc, where
        self.macros, self.errors = macros, errors
        self.columns = {c.name: c for c in source.columns}
        self.used: set[str] = set()

    def sql(self, text: str, data_path: tuple[Any, ...], *, what: str) -> dict[str, exp.Expr | None]:
        result: dict[str, exp.Expr | None] = {}
        for engine in ENGINES:
            try:
                rendered, used = self.macros.render(text, engine, {})
            except FragmentError as exc:
                location = exc.location or fragment_location(self.doc, self.where + data_path, exc.line, exc.col)
                self.errors.add(location, f"{exc.message} (model '{self.model.name}', {what})", exc.hint)
                return {e: None for e in ENGINES}
            self.used |= used
            tree = self._parse(rendered, text, data_path, what)
            if tree is None:
                return {e: None for e in ENGINES}
            result[engine] = tree
        return result

    def _parse(self, rendered: str, original: str, data_path: tuple[Any, ...], what: str) -> exp.Expr | None:
        try:
            tree = _parse_sql(rendered)
        except ParseError as exc:
            detail = exc.errors[0] if exc.errors else {}
            line, col = detail.get("line", 1), detail.get("col", 1)
            if rendered != original.strip():  # positions refer to the rendered text: point at the fragment
                line, col = 1, 1
            message = re.sub(r"<class '[\w.]*?(\w+)'>", r"\1", detail.get("description", str(exc)))
            hint = f"rendered SQL was: {rendered.strip()}" if rendered != original.strip() else "fix the SQL"
            self.errors.add(fragment_location(self.doc, self.where + data_path, line, col),
                            f"SQL syntax error in {what}: {message}", hint)
            return None
        if isinstance(tree, (exp.Query, exp.Command)) or tree is None:
            self.errors.add(fragment_location(self.doc, self.where + data_path, 1, 1),
                            f"{what} must be an SQL expression, not a statement", "write e.g. entity_type = 'session_phase'")
            return None
        for column in tree.find_all(exp.Column):
            if column.name not in self.columns:
                line, col = _position(original, column.name)
                hint = _suggest(column.name, self.columns) or f"columns of '{self.source.name}': {', '.join(self.columns)}"
                self.errors.add(fragment_location(self.doc, self.where + data_path, line, col),
                                f"unknown column '{column.name}' in {what}", hint)
                return None
        return tree

    def column(self, name: str, data_path: tuple[Any, ...]) -> bool:
        if name in self.columns:
            return True
        hint = _suggest(name, self.columns) or f"columns of '{self.source.name}': {', '.join(self.columns)}"
        self.errors.add(self.doc.where(self.where + data_path), f"unknown column '{name}'", hint)
        return False


@functools.lru_cache(maxsize=4096)
def _parse_sql(text: str) -> exp.Expr:
    """Parsed fragments are shared between models with the same text: treat them as immutable
    (callers copy before building on them)."""
    return sqlglot.parse_one(text, read=FLINK)


def _position(text: str, needle: str) -> tuple[int, int]:
    offset = text.find(needle)
    if offset < 0:
        return 1, 1
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _resolve_model(model: S.Model, source: S.Source, doc: YamlDocument, where: tuple[Any, ...],
                   macros: MacroLibrary, errors: ErrorCollector) -> ResolvedModel | None:
    before = len(errors.errors)
    fragments = _Fragments(model, source, doc, where, macros, errors)
    window_ms = _window(model, doc, where, errors)
    watermark_ms = _interval(source.watermark_delay, doc, where, ErrorCollector()) or 0
    _interval(model.checkpoint_interval, doc, where + ("checkpoint_interval",), errors)
    for i, key in enumerate(model.group_by):
        fragments.column(key, ("group_by", i))
    for i, key in enumerate(model.sink.partition_by):
        if key not in ("window_start", "window_end", *model.group_by, *(m.name for m in model.metrics)):
            errors.add(doc.where(where + ("sink", "partition_by", i)), f"partition column '{key}' is not a sink column",
                       "partition by window_start, a group key or a metric")
    filter_ = fragments.sql(model.filter, ("filter",), what="filter") if model.filter else {e: None for e in ENGINES}
    metrics = []
    names: set[str] = set()
    reserved = {"window_start", "window_end", *model.group_by}
    partial = tuple(where) in getattr(doc, "partial", set())
    for i, metric in enumerate(() if partial else model.metrics):
        path = ("metrics", i)
        if metric.name in names or metric.name in reserved:
            errors.add(doc.where(where + path + ("name",)), f"metric name '{metric.name}' is already a sink column",
                       "give each metric a unique name")
        names.add(metric.name)
        resolved = _resolve_metric(metric, fragments, path)
        if resolved is not None:
            metrics.append(resolved)
    if len(errors.errors) > before:
        return None
    text = doc.path
    return ResolvedModel(
        spec=model, source=source, path=text, checksum=_sha(model.model_dump_json() + source.model_dump_json()),
        window_ms=window_ms, watermark_ms=watermark_ms, filter=filter_, metrics=tuple(metrics),
        macros=tuple(sorted(fragments.used)), consumer_group=model.consumer_group or source.consumer_group or f"streammetrics-{model.name}",
        sink_location=doc.where(where + ("sink", "table")),
        late_location=doc.where(where + ("late_events", "table")) if model.late_events else None,
    )


def _resolve_metric(metric: S.Metric, fragments: _Fragments, path: tuple[Any, ...]) -> ResolvedMetric | None:
    errors, doc, where = fragments.errors, fragments.doc, fragments.where
    kind = metric.kind

    def need(condition: bool, message: str, hint: str, key: str | None = None) -> bool:
        if not condition:
            errors.add(doc.where(where + path + ((key,) if key else ()), key=bool(key)), f"metric '{metric.name}': {message}", hint)
        return condition

    if kind == "expression":
        ok = need(metric.sql is not None, "an expression metric needs 'sql'", "add sql: \"{{ completion_rate() }}\"")
        ok &= need(metric.type is not None, "an expression metric needs 'type'", "add type: DOUBLE")
        ok &= need(metric.column is None and metric.json_path is None, "'column'/'json_path' do not apply to expression metrics",
                   "write the columns inside 'sql'")
        if not ok:
            return None
        aggregate = fragments.sql(metric.sql or "", path + ("sql",), what=f"metric '{metric.name}'")
        if any(v is None for v in aggregate.values()):
            return None
        none = {e: None for e in ENGINES}
        return ResolvedMetric(metric, _flink_type(metric.type or "DOUBLE"), none, aggregate,
                              _where(metric, fragments, path))
    if not need(metric.sql is None, "'sql' only applies to expression metrics", "use kind: expression, or remove sql", "sql"):
        return None
    if metric.n is not None and kind != "top_n":
        need(False, "'n' only applies to top_n metrics", "remove n", "n")
        return None
    if metric.column is None:
        if kind == "count" and metric.json_path is None:
            none = {e: None for e in ENGINES}
            aggregate = {e: exp.Count(this=exp.Star()) for e in ENGINES}
            return ResolvedMetric(metric, "BIGINT", none, aggregate, _where(metric, fragments, path))
        need(False, f"a {kind} metric needs 'column'", "add column: <source column>")
        return None
    if not fragments.column(metric.column, path + ("column",)):
        return None
    column_type = fragments.columns[metric.column].type.upper()
    if metric.json_path is not None:
        if not need(column_type.startswith(("STRING", "VARCHAR")), f"json_path needs a STRING column, '{metric.column}' is {column_type}",
                    "point column at the JSON string column", "json_path"):
            return None
        value_type = metric.json_type
        value = fragments.sql(
            "{{ json_value(" + repr(metric.column) + ", " + repr(metric.json_path) + ", " + repr(value_type) + ") }}",
            path + ("json_path",), what=f"metric '{metric.name}'",
        )
        if any(v is None for v in value.values()):
            return None
    else:
        value_type = column_type
        value = {e: exp.column(metric.column) for e in ENGINES}
    if kind in ("sum", "avg") and not value_type.startswith(NUMERIC):
        need(False, f"{kind} needs a numeric value, '{metric.column}' is {value_type}", "set type: DOUBLE with a json_path")
        return None
    where_ = _where(metric, fragments, path)
    aggregate: dict[str, exp.Expr | None] = {}
    for engine in ENGINES:
        v = value[engine]
        if kind == "count":
            aggregate[engine] = exp.Count(this=v.copy())
        elif kind == "count_distinct":
            aggregate[engine] = exp.Count(this=exp.Distinct(expressions=[v.copy()]))
        elif kind == "sum":
            aggregate[engine] = exp.Sum(this=v.copy())
        elif kind == "avg":
            arg = v.copy() if value_type.startswith(("DOUBLE", "FLOAT", "DECIMAL")) else exp.cast(v.copy(), "DOUBLE")
            aggregate[engine] = exp.Avg(this=arg)
        elif kind == "min":
            aggregate[engine] = exp.Min(this=v.copy())
        elif kind == "max":
            aggregate[engine] = exp.Max(this=v.copy())
        else:
            aggregate[engine] = None
    sink_type = {
        "count": "BIGINT", "count_distinct": "BIGINT", "avg": "DOUBLE", "top_n": "ARRAY<STRING>",
        "sum": "BIGINT" if value_type.startswith(INTEGRAL) else value_type, "min": value_type, "max": value_type,
    }[kind]
    return ResolvedMetric(metric, _flink_type(sink_type), value, aggregate, where_)


def _where(metric: S.Metric, fragments: _Fragments, path: tuple[Any, ...]) -> dict[str, exp.Expr | None]:
    if metric.where is None:
        return {e: None for e in ENGINES}
    return fragments.sql(metric.where, path + ("where",), what=f"metric '{metric.name}' where")


def _flink_type(text: str) -> str:
    return _flink_type_cached(text)


@functools.lru_cache(maxsize=1024)
def _flink_type_cached(text: str) -> str:
    return exp.DataType.build(text, dialect=FLINK).sql(FLINK)
