"""profiles.yml: named targets with connection settings.

Only the selected target is rendered. Values may call `{{ env_var('NAME') }}` or
`{{ env_var('NAME', 'default') }}`; that is the only way to bring a secret in. What compile writes
under target/ never holds an environment value: it holds the placeholder `${env:NAME}`, which deploy
resolves at submit time (see `resolve_placeholders`); `${env:NAME:-default}` when a default is given.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import CompileFailed, ErrorCollector, Location, ProjectError, StreamMetricsError, display_path
from .yamlfile import YamlSyntaxError, fragment_location, load_yaml

PLACEHOLDER = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Strict):
    bootstrap_servers: str = "127.0.0.1:9092"
    properties: dict[str, str] = Field(default_factory=dict)


class CatalogSettings(_Strict):
    """The Iceberg catalog as Flink sees it; `name` is the first part of every sink table."""

    name: str = "polaris"
    options: dict[str, str] = Field(default_factory=dict)


class TrinoSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = 8080
    user: str = "streammetrics"
    http_scheme: Literal["http", "https"] = "http"
    password: str | None = None
    iceberg_catalog: str = "iceberg"
    kafka_catalog: str = "kafka"
    kafka_schema: str = "default"


class FlinkSettings(_Strict):
    gateway_url: str | None = None
    rest_url: str | None = None
    state_dir: str | None = None
    # java: streammetrics' Java functions (SM_JSON_VALUES, SM_TOP_N; see functions.py), the default;
    # sql: built-in functions only (JSON_VALUE per path, top_n as a window Top-N pipeline)
    functions: Literal["java", "sql"] = "java"
    # where the cluster's SQL Gateway reads the functions jar (a path or URI); default: the local build
    functions_jar: str | None = None


class Target(_Strict):
    type: Literal["embedded", "cluster"]
    kafka: KafkaSettings = KafkaSettings()
    catalog: CatalogSettings = CatalogSettings()
    trino: TrinoSettings = TrinoSettings()
    flink: FlinkSettings = FlinkSettings()
    settings: dict[str, str] = Field(default_factory=dict)


class Profiles(_Strict):
    default_target: str
    targets: dict[str, dict[str, Any]]


def _env_var_placeholder(name: str, default: str | None = None) -> str:
    if name not in os.environ and default is None:
        raise StreamMetricsError(
            f"environment variable {name} is not set; export it, or give env_var('{name}', 'default')"
        )
    return "${env:" + name + (f":-{default}" if default is not None else "") + "}"


def load_target(path: Path, name: str | None, root: Path) -> tuple[str, Target]:
    shown = display_path(path, root)
    if not path.is_file():
        raise StreamMetricsError(f"{shown}: not found; create it with a default_target and targets")
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"), shown)
    except YamlSyntaxError as exc:
        raise CompileFailed([_error(exc.location, exc.problem, "fix the YAML syntax")]) from None
    try:
        profiles = Profiles.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CompileFailed(
            [_error(doc.where(first["loc"]), f"profiles: {first['msg']}", "see README.md, 'Targets'")]
        ) from None
    chosen = name or profiles.default_target
    if chosen not in profiles.targets:
        valid = ", ".join(sorted(profiles.targets))
        raise StreamMetricsError(f"{shown}: unknown target '{chosen}'; valid targets: {valid}")
    rendered = _render(profiles.targets[chosen], doc, ("targets", chosen))
    try:
        return chosen, Target.model_validate(rendered)
    except ValidationError as exc:
        errors = ErrorCollector()
        for err in exc.errors():
            loc = ("targets", chosen) + tuple(err["loc"])
            errors.add(doc.where(loc, key=err["type"] == "extra_forbidden"), f"target '{chosen}': {err['msg']}",
                       "see README.md, 'Targets'")
        errors.raise_if_any()
        raise


def _render(value: Any, doc: Any, data_path: tuple[Any, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _render(v, doc, data_path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, doc, data_path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, str) and "{{" in value:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        try:
            return env.from_string(value).render(env_var=_env_var_placeholder)
        except StreamMetricsError as exc:
            raise CompileFailed([_error(fragment_location(doc, data_path, 1, 1), str(exc), "")]) from None
        except jinja2.TemplateError as exc:
            raise CompileFailed([_error(doc.where(data_path), f"bad template: {exc}", "use {{ env_var('NAME') }}")]) from None
    return value


def _error(location: Location, message: str, hint: str) -> ProjectError:
    return ProjectError(location, message, hint)


def resolve_placeholders(text: str) -> str:
    """Replace ${env:NAME} with the environment's value, at the last moment (deploy, run)."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name not in os.environ and default is not None:
            return default
        if name not in os.environ:
            raise StreamMetricsError(f"environment variable {name} is not set; the target needs it")
        return os.environ[name]

    return PLACEHOLDER.sub(value, text)
