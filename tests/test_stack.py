"""The production path on real services (stack/up): Kafka -> Flink session cluster -> Iceberg (JDBC
catalog on PostgreSQL) -> Trino. Nothing mocked.

Runs when the stack answers; `.ci/run` starts it and sets STREAMMETRICS_STACK_REQUIRED=1, which turns
a missing stack into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from session_expectations import DELAY, expected_late_events, expected_rows

STACK = [sys.executable, str(ROOT / "stack" / "stack.py")]
TOPIC = "matih.ai.state-changes"
pytestmark = pytest.mark.stack


def stack_up() -> bool:
    return subprocess.run([*STACK, "status"], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def stack():
    if not stack_up():
        if os.environ.get("STREAMMETRICS_STACK_REQUIRED") == "1":
            pytest.fail("the stack is not running: bash stack/up")
        pytest.skip("the stack is not running (bash stack/up)")
    import trino

    connection = trino.dbapi.connect(host="127.0.0.1", port=8080, user="test", timezone="UTC")
    return connection


def trino_rows(connection, sql: str) -> list[tuple]:
    cursor = connection.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def cancel_jobs(name: str) -> None:
    import requests

    for job in requests.get("http://127.0.0.1:8081/jobs/overview", timeout=10).json()["jobs"]:
        if job["name"] == name and job["state"] in ("RUNNING", "CREATED", "RESTARTING", "INITIALIZING"):
            requests.patch(f"http://127.0.0.1:8081/jobs/{job['jid']}?mode=cancel", timeout=10)


def running_job(name: str) -> str | None:
    import requests

    jobs = [j for j in requests.get("http://127.0.0.1:8081/jobs/overview", timeout=10).json()["jobs"]
            if j["name"] == name and j["state"] == "RUNNING"]
    return jobs[0]["jid"] if jobs else None


def reset_topic() -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": "127.0.0.1:9092"})
    if TOPIC in admin.list_topics(timeout=10).topics:
        admin.delete_topics([TOPIC])[TOPIC].result()
        for _ in range(50):
            if TOPIC not in admin.list_topics(timeout=10).topics:
                break
            time.sleep(0.2)
    for _ in range(50):
        try:
            admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result()
            return
        except Exception:  # noqa: BLE001 - deletion still settling
            time.sleep(0.3)
    raise AssertionError("could not recreate the topic")


def produce(lines: list[str]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": 5})
    for line in lines:
        producer.produce(TOPIC, line.encode())
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def project(stack, tmp_path_factory) -> dict:
    """A copy of the project writing to its own Iceberg namespace, on a fresh topic."""
    root = tmp_path_factory.mktemp("stack-project")
    for name in ("models", "macros"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "profiles.yml", root / "profiles.yml")
    namespace = f"itest_{uuid.uuid4().hex[:8]}"
    model = root / "models" / "session_analytics.yml"
    model.write_text(model.read_text().replace("polaris.matih_analytics.", f"polaris.{namespace}.")
                     + f"    late_events:\n      table: polaris.{namespace}.session_analytics_late\n")
    sources = root / "models" / "sources.yml"
    sources.write_text(sources.read_text().replace("flink-session-analytics", f"itest-{namespace}"))
    cancel_jobs("session_analytics")
    reset_topic()
    from streammetrics.generate import generate
    from streammetrics.project import load_project

    source = load_project(root).sources["state_changes"]
    lines = list(generate(source, 3000, seed=11))
    return {"root": root, "namespace": namespace, "lines": lines, "produced": []}


def closed(rows: list[dict], watermark: datetime) -> list[dict]:
    return [r for r in rows if datetime.strptime(r["window_end"], "%Y-%m-%d %H:%M:%S.%f") - timedelta(milliseconds=1) <= watermark]


def watermark_of(lines: list[str]) -> datetime:
    times = []
    for line in lines:
        try:
            times.append(datetime.strptime(json.loads(line)["timestamp"], "%Y-%m-%dT%H:%M:%S.%f"))
        except (ValueError, KeyError, TypeError):
            continue
    return max(times) - DELAY


def late_copies(lines: list[str], count: int) -> list[str]:
    """Copies of early session_phase events under new ids, to be produced after their windows closed."""
    copies = []
    for line in lines:
        try:
            event = json.loads(line)
            datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f")
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(event, dict) and event.get("tenant_id") and event.get("entity_type") == "session_phase":
            copies.append(json.dumps({**event, "event_id": f"late-copy-{len(copies)}"}))
        if len(copies) == count:
            break
    return copies


def wait_for_sink(connection, namespace: str, count: int, timeout: float = 180) -> list[tuple]:
    return wait_for_rows(connection, f"SELECT * FROM iceberg.{namespace}.session_analytics ORDER BY window_start, tenant_id",
                         count, timeout)


def wait_for_rows(connection, sql: str, count: int, timeout: float = 120) -> list[tuple]:
    deadline = time.monotonic() + timeout
    rows: list[tuple] = []
    while time.monotonic() < deadline:
        try:
            rows = trino_rows(connection, sql)
        except Exception:  # noqa: BLE001 - the table appears with the first commit
            rows = []
        if len(rows) >= count:
            return rows
        time.sleep(2)
    raise AssertionError(f"{len(rows)} rows after {timeout:.0f} s, expected {count}: {sql}")


def reconcile(project: dict, until: datetime):
    return run_cli(project["root"], "reconcile", "--target", "stack", "--select", "session_analytics",
                   "--until", until.strftime("%Y-%m-%d %H:%M:%S"), "--format", "json")


def test_deploy_produce_reconcile(stack, project) -> None:
    result = run_cli(project["root"], "deploy", "--target", "stack")
    assert result.exit_code == 0, result.output
    assert "create" in result.output
    first = project["lines"][:2000]
    first += late_copies(first[:300], 3)  # re-sent at the end: their windows have closed by then
    produce(first)
    project["produced"] += first
    wm = watermark_of(project["produced"])
    expected = closed(expected_rows(project["produced"]), wm)
    rows = wait_for_sink(stack, project["namespace"], len(expected))
    check = reconcile(project, wm)
    report = json.loads(check.output)
    assert check.exit_code == 0, check.output
    assert report["windows_checked"] >= len(expected) >= 4 and report["windows_mismatched"] == 0
    # the sink, read through Trino, against the plain-Python computation
    got = {(str(r[0])[:19], r[2]): r for r in rows}
    for want in expected:
        row = got[(want["window_start"][:19], want["tenant_id"])]
        assert row[3] == want["total_sessions"] and row[7] == want["unique_users"]
        assert row[6] == pytest.approx(want["completion_rate"])
        assert list(row[8]) == want["top_agents"] and list(row[9]) == want["top_intents"]
    # the late-events table (same job: a statement set): exactly the events the window dropped, with the
    # watermark they arrived after, as computed here in plain Python
    late = expected_late_events(project["produced"])
    assert {f"late-copy-{i}" for i in range(3)} <= set(late)
    got_late = wait_for_rows(stack, f"SELECT event_id, dropped_at_watermark FROM iceberg.{project['namespace']}"
                                    ".session_analytics_late", len(late))
    assert {r[0]: r[1] for r in got_late} == late
    project["job"] = running_job("session_analytics")


def test_redeploy_unchanged_is_a_no_op(stack, project) -> None:
    result = run_cli(project["root"], "deploy", "--target", "stack")
    assert result.exit_code == 0, result.output
    assert "no-op" in result.output
    assert running_job("session_analytics") == project["job"]


def test_non_state_change_upgrades_from_savepoint(stack, project) -> None:
    model = project["root"] / "models" / "session_analytics.yml"
    model.write_text(model.read_text().replace("    sink:\n", "    settings:\n      table.exec.resource.default-parallelism: '1'\n    sink:\n"))
    result = run_cli(project["root"], "deploy", "--target", "stack")
    assert result.exit_code == 0, result.output
    assert "upgrade" in result.output
    new_job = running_job("session_analytics")
    assert new_job and new_job != project["job"]
    project["job"] = new_job
    more = project["lines"][2000:2600]
    produce(more)
    project["produced"] += more
    wm = watermark_of(project["produced"])
    expected = closed(expected_rows(project["produced"]), wm)
    wait_for_sink(stack, project["namespace"], len(expected))
    check = reconcile(project, wm)
    assert check.exit_code == 0, check.output  # no window lost or counted twice across the upgrade


def test_state_change_is_refused(stack, project) -> None:
    model = project["root"] / "models" / "session_analytics.yml"
    original = model.read_text()
    model.write_text(original.replace("size: 15 minutes", "size: 10 minutes"))
    try:
        result = run_cli(project["root"], "deploy", "--target", "stack")
        assert result.exit_code == 4, result.output
        assert "refused" in result.output and "--allow-state-reset" in result.output
        assert running_job("session_analytics") == project["job"]
    finally:
        model.write_text(original)


def test_taskmanager_killed_job_recovers(stack, project) -> None:
    state = Path(os.environ.get("STREAMMETRICS_STACK_DIR", Path.home() / ".cache" / "streammetrics" / "stack-state"))
    pids = [p for p in (state / "run").glob("*taskexecutor*.pid")]
    assert pids, f"no TaskManager pid file in {state / 'run'}"
    pid = int(pids[0].read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    subprocess.run([*STACK, "up", "flink"], check=True, capture_output=True, timeout=300)
    more = project["lines"][2600:]
    produce(more)
    project["produced"] += more
    wm = watermark_of(project["produced"])
    expected = closed(expected_rows(project["produced"]), wm)
    wait_for_sink(stack, project["namespace"], len(expected), timeout=240)
    check = reconcile(project, wm)
    assert check.exit_code == 0, check.output  # nothing missing, nothing counted twice after recovery


def test_clear_errors_for_unreachable_services(stack, project, tmp_path) -> None:
    broken = tmp_path / "p"
    shutil.copytree(project["root"], broken)
    profiles = broken / "profiles.yml"
    profiles.write_text(profiles.read_text().replace("http://127.0.0.1:8083", "http://127.0.0.1:1").replace("port: 8080", "port: 1"))
    deploy = run_cli(broken, "deploy", "--target", "stack")
    assert deploy.exit_code == 1 and "Flink SQL Gateway at http://127.0.0.1:1 is unreachable" in deploy.stderr
    down = run_cli(broken, "reconcile", "--target", "stack", "--select", "session_analytics")
    assert down.exit_code == 1 and "Trino is unreachable" in down.stderr
    unknown = run_cli(project["root"], "reconcile", "--target", "stack", "--select", "nope")
    assert unknown.exit_code == 1 and "--select 'nope' matches no model" in unknown.stderr
