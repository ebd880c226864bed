"""deploy against a scripted SQL Gateway + JobManager (injected HTTP transport): the statements sent
and the plan decisions. The same code runs against the real services in tests/test_stack.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from streammetrics import functions
from streammetrics.context import Context
from streammetrics.deploy import PROP_SAVEPOINT, PROP_SHA, PROP_STATE, deploy
from streammetrics.errors import StreamMetricsError
from streammetrics.manifest import sha256, state_fingerprint


class FakeResponse:
    def __init__(self, status: int, body: Any):
        self.status_code, self._body = status, body
        self.content = json.dumps(body).encode()
        self.text = self.content.decode()

    def json(self) -> Any:
        return self._body


class FakeFlink:
    """Just enough of the SQL Gateway v1 and JobManager REST APIs."""

    def __init__(self, properties: dict[str, str] | None = None, running: bool = False):
        self.statements: list[str] = []
        self.properties = dict(properties or {})
        self.jobs = [{"jid": "job-1", "name": "session_analytics", "state": "RUNNING", "start-time": 1}] if running else []
        self.stopped: list[str] = []

    def request(self, method: str, url: str, json: Any = None, timeout: float = 0) -> FakeResponse:
        path = re.sub(r"^http://[^/]+", "", url)
        if path == "/jobs/overview":
            return FakeResponse(200, {"jobs": self.jobs})
        if method == "POST" and path.endswith("/stop"):
            self.stopped.append(path.split("/")[2])
            self.jobs = []
            return FakeResponse(200, {"request-id": "r1"})
        if "/savepoints/" in path:
            return FakeResponse(200, {"status": {"id": "COMPLETED"}, "operation": {"location": "file:///sp/savepoint-1"}})
        if path == "/v1/sessions":
            return FakeResponse(200, {"sessionHandle": "s1"})
        if method == "DELETE":
            return FakeResponse(200, {})
        if path.endswith("/statements"):
            self.statements.append(json["statement"])
            return FakeResponse(200, {"operationHandle": f"o{len(self.statements)}"})
        if path.endswith("/status"):
            return FakeResponse(200, {"status": "FINISHED"})
        if "/result/" in path:
            statement = self.statements[int(path.split("/operations/o")[1].split("/")[0]) - 1]
            return FakeResponse(200, {"resultType": "EOS", "results": {"data": self._result(statement)}})
        raise AssertionError(f"unexpected {method} {path}")

    def _result(self, statement: str) -> list[dict]:
        if statement.startswith("SHOW CREATE TABLE"):
            options = ", ".join(f"'{k}' = '{v}'" for k, v in self.properties.items()) or "'format-version' = '2'"
            return [{"fields": [f"CREATE TABLE `polaris`.`matih_analytics`.`session_analytics` (`x` INT) WITH ({options})"]}]
        if statement.startswith("ALTER TABLE"):
            for key, value in re.findall(r"'([^']+)' = '([^']*)'", statement):
                self.properties[key] = value
        if statement.startswith(("INSERT", "EXECUTE STATEMENT SET")):
            self.jobs = [{"jid": "job-2", "name": "session_analytics", "state": "RUNNING", "start-time": 2}]
            return [{"fields": ["job-2"]}]
        return [{"fields": ["OK"]}]


@pytest.fixture(scope="module")
def compiled():
    context = Context(ROOT, "stack")
    result = context.compile(["session_analytics"])
    return result.compiled[0], context.load_target()[1]


def deployed_properties(c) -> dict[str, str]:
    return {PROP_SHA: sha256(c.flink_sql), PROP_STATE: state_fingerprint(c.model), PROP_SAVEPOINT: ""}


def test_first_deploy_creates_the_job_and_records_fingerprints(compiled) -> None:
    c, target = compiled
    fake = FakeFlink()
    result = deploy([c], target, dry_run=False, allow_state_reset=False, http=fake)
    assert [(i.model, i.action) for i in result.plan] == [("session_analytics", "create")]
    assert result.applied == (("session_analytics", "job-2"),)
    sent = fake.statements
    assert sent[0].startswith("CREATE CATALOG IF NOT EXISTS polaris")
    assert "'jdbc.password' = 'streammetrics'" in sent[0]  # ${env:...} resolved at submit time only
    assert "SET 'pipeline.name' = 'session_analytics'" in sent
    assert any(s.startswith("CREATE TABLE IF NOT EXISTS polaris.matih_analytics.session_analytics") for s in sent)
    insert = next(s for s in sent if s.startswith("INSERT INTO polaris.matih_analytics.session_analytics"))
    assert "TUMBLE(TABLE state_changes" in insert
    # the functions jar: the placeholder resolved to the locally built jar, before the functions and the job
    add_jar = next(i for i, s in enumerate(sent) if s.startswith("ADD JAR "))
    assert sent[add_jar] == f"ADD JAR '{functions.jar_path()}'"
    created = [i for i, s in enumerate(sent) if s.startswith("CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS SM_")]
    assert len(created) == 2 and add_jar < min(created) and max(created) < sent.index(insert)
    assert fake.properties[PROP_SHA] == sha256(c.flink_sql)
    assert fake.properties[PROP_STATE] == state_fingerprint(c.model)


def test_switching_top_n_implementation_changes_the_state_fingerprint(compiled) -> None:
    """SM_TOP_N keeps its counts in the window aggregate's state, the SQL pipeline in other operators:
    a savepoint of one cannot be restored by the other, so deploy must treat the switch as a state change."""
    c, _ = compiled
    assert state_fingerprint(c.model, "java") != state_fingerprint(c.model, "sql")
    assert state_fingerprint(c.model) == state_fingerprint(c.model, "java")


def test_unchanged_model_is_a_no_op(compiled) -> None:
    c, target = compiled
    fake = FakeFlink(deployed_properties(c), running=True)
    result = deploy([c], target, dry_run=False, allow_state_reset=False, http=fake)
    assert [i.action for i in result.plan] == ["no-op"] and result.applied == ()
    assert not any(s.startswith(("INSERT", "ALTER")) for s in fake.statements)


def test_changed_script_same_state_is_a_savepoint_upgrade(compiled) -> None:
    c, target = compiled
    fake = FakeFlink({**deployed_properties(c), PROP_SHA: "older"}, running=True)
    result = deploy([c], target, dry_run=False, allow_state_reset=False, http=fake)
    assert [i.action for i in result.plan] == ["upgrade"]
    assert fake.stopped == ["job-1"]
    sent = fake.statements
    pending = next(i for i, s in enumerate(sent) if PROP_SAVEPOINT in s and "savepoint-1" in s)
    restore = sent.index("SET 'execution.state-recovery.path' = 'file:///sp/savepoint-1'")
    insert = next(i for i, s in enumerate(sent) if s.startswith("INSERT"))
    assert pending < restore < insert  # the savepoint is recorded before the restart: a crash in between resumes
    assert fake.properties[PROP_SAVEPOINT] == ""


def test_interrupted_upgrade_resumes_from_the_recorded_savepoint(compiled) -> None:
    c, target = compiled
    fake = FakeFlink({**deployed_properties(c), PROP_SHA: "older", PROP_SAVEPOINT: "file:///sp/savepoint-0"}, running=False)
    result = deploy([c], target, dry_run=False, allow_state_reset=False, http=fake)
    assert [i.action for i in result.plan] == ["resume"]
    assert "SET 'execution.state-recovery.path' = 'file:///sp/savepoint-0'" in fake.statements


def test_state_change_is_refused_without_the_flag_and_dry_run_changes_nothing(compiled) -> None:
    c, target = compiled
    fake = FakeFlink({**deployed_properties(c), PROP_SHA: "older", PROP_STATE: "older"}, running=True)
    result = deploy([c], target, dry_run=True, allow_state_reset=False, http=fake)
    assert [i.action for i in result.plan] == ["refused"]
    assert "--allow-state-reset" in result.plan[0].reason
    assert fake.stopped == [] and not any(s.startswith(("INSERT", "ALTER", "CREATE TABLE", "CREATE DATABASE")) for s in fake.statements)
    reset = deploy([c], target, dry_run=False, allow_state_reset=True, http=fake)
    assert [i.action for i in reset.plan] == ["reset"]
    assert fake.stopped == ["job-1"]
    assert not any("state-recovery" in s for s in fake.statements)


def test_unreachable_gateway_is_one_clear_error(compiled, tmp_path: Path) -> None:
    from conftest import run_cli

    profiles = (ROOT / "profiles.yml").read_text().replace("http://127.0.0.1:8081", "http://127.0.0.1:1")
    for name in ("models", "macros"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "profiles.yml").write_text(profiles)
    result = run_cli(tmp_path, "deploy", "--target", "stack")
    assert result.exit_code == 1
    assert "Flink JobManager at http://127.0.0.1:1 is unreachable" in result.stderr
    assert "Traceback" not in result.output


def test_remote_gateway_without_a_reachable_functions_jar_is_refused_before_anything_is_sent(compiled) -> None:
    c, target = compiled
    remote = target.model_copy(update={"flink": target.flink.model_copy(update={
        "gateway_url": "http://flink-sql-gateway.prod:8083", "rest_url": "http://flink-jobmanager.prod:8081"})})
    fake = FakeFlink()
    with pytest.raises(StreamMetricsError, match=r"cannot read streammetrics' Flink functions jar.*flink\.functions_jar"):
        deploy([c], remote, dry_run=True, allow_state_reset=False, http=fake)
    assert fake.statements == []


def test_a_model_with_late_events_is_one_job_from_a_statement_set(project: Path) -> None:
    model = project / "models" / "session_analytics.yml"
    model.write_text(model.read_text() + "    late_events:\n      table: polaris.matih_analytics.session_analytics_late\n")
    context = Context(project, "stack")
    c = context.compile(["session_analytics"]).compiled[0]
    fake = FakeFlink()
    result = deploy([c], context.load_target()[1], dry_run=False, allow_state_reset=False, http=fake)
    assert result.applied == (("session_analytics", "job-2"),)
    sets = [s for s in fake.statements if s.startswith("EXECUTE STATEMENT SET")]
    assert len(sets) == 1 and not any(s.startswith("INSERT") for s in fake.statements)
    assert "INSERT INTO polaris.matih_analytics.session_analytics_late" in sets[0]
    assert any(s.startswith("CREATE TABLE IF NOT EXISTS polaris.matih_analytics.session_analytics_late") for s in fake.statements)
