"""`deploy`: submit compiled models to a Flink session cluster through the SQL Gateway, idempotently.

What is deployed is recorded on the sink table itself (Iceberg table properties, so it lives in the
catalog next to the data): the SHA-256 of the deployed Flink script, its state fingerprint, and a
savepoint that an upgrade has taken but not yet restarted from. Per model the plan is:

- create: no job runs under the model's name (pipeline.name) -> start it;
- no-op: a job runs and the deployed script is byte-identical;
- upgrade: the script changed, the state fingerprint did not -> stop with savepoint, restart from it;
- resume: no job runs but an upgrade left a savepoint (interrupted deploy) -> restart from it;
- refused: the state fingerprint changed (window, keys, filter, source, aggregates) -> the old state
  is unusable; `--allow-state-reset` stops the job (with a savepoint, kept) and starts from empty state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from sqlglot import exp

from . import functions
from .dialects import FLINK
from .dialects.flink import StatementSet
from .errors import StreamMetricsError
from .flinkscript import FlinkScript, table_options
from .gateway import GatewayError, JobManager, SqlGateway
from .manifest import CompiledModel, sha256, state_fingerprint
from .profiles import Target, resolve_placeholders

PROP_SHA = "streammetrics.flink-sha256"
PROP_STATE = "streammetrics.state-fingerprint"
PROP_SAVEPOINT = "streammetrics.pending-savepoint"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class PlanItem:
    model: str
    action: str  # create | no-op | upgrade | resume | refused | reset
    reason: str
    job_id: str | None = None
    savepoint: str | None = None


@dataclass(frozen=True)
class DeployResult:
    plan: tuple[PlanItem, ...]
    applied: tuple[tuple[str, str], ...] = ()  # (model, job id) of started jobs


class Deployer:
    def __init__(self, target: Target, gateway: SqlGateway, jobmanager: JobManager,
                 progress: Callable[[str], None] = lambda _: None):
        self.target, self.gateway, self.jobmanager, self.progress = target, gateway, jobmanager, progress

    def plan(self, compiled: CompiledModel, allow_state_reset: bool = False) -> PlanItem:
        model = compiled.model
        script = self._script(compiled)
        self._prepare_catalog(script)
        recorded = self._recorded(model.spec.sink.table)
        job = self.jobmanager.running(model.name)
        sha, fingerprint = sha256(compiled.flink_sql), state_fingerprint(model, self.target.flink.functions)
        pending = recorded.get(PROP_SAVEPOINT) or None
        if job is None:
            if pending and recorded.get(PROP_STATE) == fingerprint:
                return PlanItem(model.name, "resume", f"an interrupted upgrade left savepoint {pending}", None, pending)
            return PlanItem(model.name, "create", "no job runs under this name")
        job_id = job["jid"]
        if recorded.get(PROP_SHA) == sha:
            return PlanItem(model.name, "no-op", "the running job's script is unchanged", job_id)
        if recorded.get(PROP_STATE) == fingerprint:
            return PlanItem(model.name, "upgrade", "the script changed, its state did not: stop with savepoint, restart from it", job_id)
        if allow_state_reset or model.spec.accept_state_reset:
            return PlanItem(model.name, "reset", "the state changed; starting from empty state as allowed", job_id)
        return PlanItem(model.name, "refused",
                        "the change makes the running job's state unusable (window, keys, filter, source or "
                        "aggregates changed); rerun with --allow-state-reset to start from empty state "
                        "(windows around the deploy will diverge), or revert the change", job_id)

    def apply(self, compiled: CompiledModel, item: PlanItem) -> str | None:
        if item.action in ("no-op", "refused"):
            return item.job_id
        model = compiled.model
        table = model.spec.sink.table
        savepoint = item.savepoint
        if item.action in ("upgrade", "reset") and item.job_id:
            self.progress(f"{model.name}: stopping job {item.job_id} with a savepoint")
            directory = self.target.flink.state_dir.rstrip("/") + "/savepoints" if self.target.flink.state_dir else None
            savepoint = self.jobmanager.stop_with_savepoint(item.job_id, directory)
            if item.action == "upgrade":
                self._set_properties(table, {PROP_SAVEPOINT: savepoint})
            else:
                savepoint = None  # kept on disk, not restored
        self.progress(f"{model.name}: starting the job" + (f" from {savepoint}" if savepoint else ""))
        job_id = self._submit(compiled, savepoint)
        fingerprint = state_fingerprint(model, self.target.flink.functions)
        self._set_properties(table, {PROP_SHA: sha256(compiled.flink_sql), PROP_STATE: fingerprint, PROP_SAVEPOINT: ""})
        return job_id

    def _script(self, compiled: CompiledModel) -> FlinkScript:
        return FlinkScript.parse(functions.resolve(resolve_placeholders(compiled.flink_sql)))

    def _prepare_catalog(self, script: FlinkScript) -> None:
        """Only the catalog (a session object): planning changes nothing in the catalog or the cluster."""
        for statement in script.statements:
            if isinstance(statement, exp.Create) and statement.kind == "CATALOG":
                self.gateway.execute(statement.sql(FLINK, comments=False))

    def _recorded(self, table: str) -> dict[str, str]:
        try:
            rows = self.gateway.execute(f"SHOW CREATE TABLE {table}")
        except GatewayError:
            return {}
        ddl = "".join(str(cell) for row in rows for cell in (row if isinstance(row, list) else [row]))
        try:
            create = FlinkScript.parse(ddl).statements[0]
        except Exception:  # noqa: BLE001 - an unparseable DDL means nothing was recorded by us
            return {}
        return {k: v for k, v in table_options(create) if k.startswith("streammetrics.")}

    def _set_properties(self, table: str, properties: dict[str, str]) -> None:
        options = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(properties.items()))
        self.gateway.execute(f"ALTER TABLE {table} SET ({options})")

    def _submit(self, compiled: CompiledModel, savepoint: str | None) -> str:
        script = self._script(compiled)
        settings = dict(script.settings)
        if savepoint:
            settings["execution.state-recovery.path"] = savepoint
        for key, value in sorted(settings.items()):
            self.gateway.execute(f"SET '{key}' = '{value}'")
        job_id = None
        for statement in script.statements:
            rows = self.gateway.execute(statement.sql(FLINK, comments=False))
            if isinstance(statement, (exp.Insert, StatementSet)) and rows:
                job_id = str(rows[0][0] if isinstance(rows[0], list) else rows[0])
        if savepoint:
            self.gateway.execute("RESET 'execution.state-recovery.path'")
        return job_id or ""


def deploy(compiled: list[CompiledModel], target: Target, *, dry_run: bool, allow_state_reset: bool,
           progress: Callable[[str], None] = lambda _: None, http: Any = None) -> DeployResult:
    if not target.flink.gateway_url or not target.flink.rest_url:
        raise StreamMetricsError("the target has no flink.gateway_url / flink.rest_url; deploy needs a cluster target "
                                 "(e.g. --target stack)")
    gateway_url = resolve_placeholders(target.flink.gateway_url)
    needs_local_jar = any(functions.JAR_PLACEHOLDER in c.flink_sql for c in compiled)
    if needs_local_jar:
        _check_functions_jar_reachable(gateway_url)
    jobmanager = JobManager.connect(resolve_placeholders(target.flink.rest_url), http)
    jobmanager.jobs()  # fail early, with a clear message, when the cluster is down
    with SqlGateway.connect(gateway_url, http) as gateway:
        deployer = Deployer(target, gateway, jobmanager, progress)
        plan, applied = [], []
        if needs_local_jar:
            functions.jar_path(on_build=lambda: progress("building streammetrics' Flink functions (javac, first deploy only)"))
        for c in sorted(compiled, key=lambda c: c.model.name):
            progress(f"{c.model.name}: planning")
            item = deployer.plan(c, allow_state_reset)
            plan.append(item)
            if not dry_run and item.action not in ("no-op", "refused"):
                applied.append((c.model.name, deployer.apply(c, item) or ""))
        return DeployResult(tuple(plan), tuple(applied))



def _check_functions_jar_reachable(gateway_url: str) -> None:
    """The default functions jar is a file on this machine: only a SQL Gateway on this machine can read it."""
    if (urlsplit(gateway_url).hostname or "") not in LOCAL_HOSTS:
        raise StreamMetricsError(
            f"the SQL Gateway at {gateway_url} cannot read streammetrics' Flink functions jar from this machine; "
            "run `compile.py functions --copy-to DIR`, upload the jar where the gateway can read it (e.g. s3://...), "
            "and set the target's flink.functions_jar to that location (or flink.functions: sql, built-in functions only)"
        )
