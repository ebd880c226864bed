#!/usr/bin/env python3
"""End-to-end benchmark on the local stack (Kafka -> Flink session cluster -> Iceberg -> Trino).

The issue's "Performance to report": (1) end-to-end latency from the last event of a window entering
Kafka to its row being visible in Trino; (2) reconcile time for 1,000,000 events in the topic.

    ~/.cache/smx/venv/bin/python bench/e2e_bench.py                     # 5 windows per series, 1M events
    ~/.cache/smx/venv/bin/python bench/e2e_bench.py --windows 10 --events 200000 --keep-stack

How it measures (details in bench/README.md):
- The stack is started if `stack/stack.py status` fails (and stopped at the end, unless --keep-stack;
  services that were already up are left running). Every run works on a copy of the project in a
  temporary directory whose session_analytics model writes to its own Iceberg namespace and reads
  with its own consumer group; before each part a running `session_analytics` job is cancelled and
  the topic `matih.ai.state-changes` is recreated empty (1 partition). Then the copy is deployed with
  `compile.py --project-dir <copy> deploy --target stack`.
- Latency, per checkpoint interval (the stack target's 10 s, and --fast-interval, default 2 s, set in
  the copy's profiles.yml: the target's settings override a model's checkpoint_interval): one warm-up
  window, then K windows of hand-made events (15-minute tumbling windows, all four tenants in each).
  Per window: produce its events, wait a random 0.5 s .. interval + 0.5 s (so that the closing event
  lands at a random phase of the checkpoint cycle), produce the event that moves the watermark to the
  window's end (event time = window end + 30 s delay) and take the time Kafka acknowledged it
  (delivery callback, acks=all, linger 0); then poll Trino every 0.2 s with
  `SELECT count(*) ... WHERE window_start = TIMESTAMP '...'` until the window's 4 rows are visible;
  latency = end of the first query that saw them - acknowledgement.
- Reconcile: N generated events (streammetrics.generate, seed 7) produced with confluent_kafka
  (linger.ms 50, large batches and queue); wait until every window that the job's final watermark
  has closed (computed here from the events with the job's lateness rule) is in the sink; then time
  `compile.py --project-dir <copy> reconcile --target stack --select session_analytics --format json
  --until <last event time - 30 s>` as a subprocess (wall clock), then the compiled Trino query alone
  through the trino client (with Trino's own query statistics). Trino's resident memory is sampled
  every 0.1 s during both (and its VmHWM read afterwards).

Prints a results table on stdout; progress on stderr. Exit code 0 when the run completed (a
reconciliation mismatch is a result, reported in the table and printed, not a failure), 1 on errors.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STACK = REPO / "stack" / "stack.py"
MODEL = "session_analytics"
TOPIC = "matih.ai.state-changes"
BOOTSTRAP = "127.0.0.1:9092"
JOBMANAGER = "http://127.0.0.1:8081"
TRINO_HOST, TRINO_PORT = "127.0.0.1", 8080
DELAY = timedelta(seconds=30)              # the source's watermark delay (models/sources.yml)
SIZE = timedelta(minutes=15)               # the model's window size
TENANTS = ["acme", "globex", "initech", "umbrella"]
AGENTS = ["planner", "retriever", "sql-writer", "summarizer", "chart-builder"]
INTENTS = ["revenue_trend", "churn_drivers", "top_customers", "forecast"]
BASE = datetime(2026, 12, 4, 9, 0, 0)      # aligned to 15 minutes
ACTIVE = ("RUNNING", "CREATED", "RESTARTING", "INITIALIZING", "CANCELLING", "FAILING", "RECONCILING", "SUSPENDED")
SERVICE_OF = {"postgres": "postgres", "kafka": "kafka", "flink-jobmanager": "flink", "flink-taskmanager": "flink",
              "flink-sql-gateway": "flink", "trino": "trino"}
STATE_DIR = Path(os.environ.get("STREAMMETRICS_STACK_DIR", Path.home() / ".cache/streammetrics/stack-state"))


def log(msg: str) -> None:
    print(f"[e2e] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# the stack
# --------------------------------------------------------------------------------------------------

def stack_env() -> dict:
    env = dict(os.environ)
    env.setdefault("STREAMMETRICS_VENV", sys.prefix)  # the venv running this script (has apache-flink)
    return env


def stack_status() -> dict[str, bool]:
    """service -> all its processes answer (parsed from `stack.py status`)."""
    out = subprocess.run([sys.executable, str(STACK), "status"], capture_output=True, text=True, timeout=120,
                         env=stack_env()).stdout
    up: dict[str, bool] = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in SERVICE_OF and len(parts) >= 4:
            service = SERVICE_OF[parts[0]]
            up[service] = up.get(service, True) and parts[3] == "yes"
    return up


def ensure_stack() -> list[str]:
    """Start what is not up; returns the services this run started."""
    before = stack_status()
    missing = [s for s in ("postgres", "kafka", "flink", "trino") if not before.get(s)]
    if not missing:
        log("stack: already up")
        return []
    log(f"stack: not up ({', '.join(missing)} down); starting it with stack/stack.py up (~60-100 s)")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(STACK), "up"], env=stack_env(), stdout=sys.stderr, stderr=sys.stderr,
                          timeout=900)
    if proc.returncode != 0:
        raise BenchError(f"stack/stack.py up failed (exit {proc.returncode}); see its output above")
    log(f"stack: up in {time.monotonic() - t0:.0f} s")
    return missing


def stop_stack(services: list[str]) -> None:
    if not services:
        return
    log(f"stack: stopping what this run started ({' '.join(services)})")
    subprocess.run([sys.executable, str(STACK), "down", *services], env=stack_env(), stdout=sys.stderr,
                   stderr=sys.stderr, timeout=600)


def trino_pid() -> int | None:
    try:
        pid = int((STATE_DIR / "run" / "trino.pid").read_text().split()[0])
        return pid if Path(f"/proc/{pid}").exists() else None
    except (OSError, ValueError, IndexError):
        return None


def proc_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Max VmRSS of a process, sampled every 0.1 s while the context is open."""

    def __init__(self, pid: int | None):
        self.pid, self.peak_kb, self.start_kb = pid, None, None
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            kb = proc_kb(self.pid, "VmRSS")
            if kb is not None:
                self.peak_kb = max(self.peak_kb or 0, kb)
            self._stop.wait(0.1)

    def __enter__(self) -> "RssSampler":
        if self.pid:
            self.start_kb = proc_kb(self.pid, "VmRSS")
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.pid:
            self._thread.join()


# --------------------------------------------------------------------------------------------------
# Flink, Kafka, Trino helpers
# --------------------------------------------------------------------------------------------------

def jobs() -> list[dict]:
    import requests

    return requests.get(f"{JOBMANAGER}/jobs/overview", timeout=10).json()["jobs"]


def cancel_model_jobs(timeout: float = 120) -> None:
    import requests

    for job in jobs():
        if job["name"] == MODEL and job["state"] in ACTIVE:
            log(f"cancelling running {MODEL} job {job['jid']}")
            requests.patch(f"{JOBMANAGER}/jobs/{job['jid']}?mode=cancel", timeout=10)
    deadline = time.monotonic() + timeout
    while any(j["name"] == MODEL and j["state"] in ACTIVE for j in jobs()):
        if time.monotonic() > deadline:
            raise BenchError(f"a {MODEL} job is still active {timeout:.0f} s after cancelling it")
        time.sleep(0.5)


def wait_job_running(timeout: float = 120) -> str:
    """The running job's id once every vertex runs (the source reads)."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [j for j in jobs() if j["name"] == MODEL and j["state"] == "RUNNING"]
        if running:
            jid = running[0]["jid"]
            detail = requests.get(f"{JOBMANAGER}/jobs/{jid}", timeout=10).json()
            if all(v.get("status") == "RUNNING" for v in detail.get("vertices", [])):
                return jid
        time.sleep(0.5)
    raise BenchError(f"the {MODEL} job is not running {timeout:.0f} s after deploy")


def checkpoint_summary(jid: str) -> dict:
    import requests

    try:
        data = requests.get(f"{JOBMANAGER}/jobs/{jid}/checkpoints", timeout=10).json()
        e2e = data.get("summary", {}).get("end_to_end_duration", {})
        return {"completed": data.get("counts", {}).get("completed"), "p50_ms": e2e.get("p50"), "max_ms": e2e.get("max")}
    except Exception:  # noqa: BLE001 - informational only
        return {}


def reset_topic() -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    if TOPIC in admin.list_topics(timeout=10).topics:
        admin.delete_topics([TOPIC])[TOPIC].result()
        for _ in range(100):
            if TOPIC not in admin.list_topics(timeout=10).topics:
                break
            time.sleep(0.2)
    for _ in range(100):
        try:
            admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result()
            return
        except Exception:  # noqa: BLE001 - deletion still settling
            time.sleep(0.3)
    raise BenchError(f"could not recreate the topic {TOPIC}")


def trino_connect():
    import logging

    import trino

    logging.getLogger("trino").setLevel(logging.ERROR)
    return trino.dbapi.connect(host=TRINO_HOST, port=TRINO_PORT, user="e2e-bench", timezone="UTC", request_timeout=900)


def trino_scalar(connection, sql: str, params=None):
    cursor = connection.cursor()
    cursor.execute(sql, params) if params is not None else cursor.execute(sql)
    return cursor.fetchall()[0][0]


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def sql_ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


# --------------------------------------------------------------------------------------------------
# the project copy
# --------------------------------------------------------------------------------------------------

@dataclass
class Copy:
    root: Path
    namespace: str
    group: str
    interval: str


def make_copy(workdir: Path, label: str, interval: str | None) -> Copy:
    """A copy of the project: own Iceberg namespace, own consumer group, optionally another checkpoint
    interval for the stack target (the target's settings override a model's checkpoint_interval)."""
    suffix = uuid.uuid4().hex[:8]
    namespace, group = f"e2e_{label}_{suffix}", f"e2e-bench-{label}-{suffix}"
    root = workdir / label
    root.mkdir(parents=True)
    for name in ("models", "macros"):
        shutil.copytree(REPO / name, root / name)
    profiles = (REPO / "profiles.yml").read_text()
    current = re.search(r"^\s+execution\.checkpointing\.interval:\s*([^#\n]+?)\s*(#.*)?$", profiles, re.M)
    if current is None:
        raise BenchError("profiles.yml: the stack target has no execution.checkpointing.interval setting")
    if interval:
        profiles = profiles[:current.start(1)] + interval + profiles[current.end(1):]
    (root / "profiles.yml").write_text(profiles)
    model = root / "models" / f"{MODEL}.yml"
    text = model.read_text()
    if "polaris.matih_analytics." not in text:
        raise BenchError(f"models/{MODEL}.yml: sink table polaris.matih_analytics.{MODEL} not found")
    model.write_text(text.replace("polaris.matih_analytics.", f"polaris.{namespace}."))
    sources = root / "models" / "sources.yml"
    stext = sources.read_text()
    if "consumer_group: flink-session-analytics" not in stext:
        raise BenchError("models/sources.yml: consumer_group flink-session-analytics not found")
    sources.write_text(stext.replace("consumer_group: flink-session-analytics", f"consumer_group: {group}"))
    return Copy(root, namespace, group, interval or current.group(1))


def cli(copy: Copy, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "compile.py"), "--project-dir", str(copy.root), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=copy.root)


def deploy(copy: Copy) -> str:
    cancel_model_jobs()
    reset_topic()
    log(f"deploying {MODEL} (namespace {copy.namespace}, group {copy.group}, checkpoint interval {copy.interval})")
    t0 = time.monotonic()
    result = cli(copy, "deploy", "--target", "stack", "--select", MODEL)
    if result.returncode != 0 or "create" not in result.stdout:
        raise BenchError(f"deploy failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    compiled = (copy.root / "target" / f"{MODEL}.flink.sql").read_text()
    want = f"SET 'execution.checkpointing.interval' = '{copy.interval}';"
    if want not in compiled:
        raise BenchError(f"the compiled job does not set the checkpoint interval {copy.interval!r}")
    jid = wait_job_running()
    log(f"job {jid} running, {time.monotonic() - t0:.1f} s after deploy started")
    return jid


# --------------------------------------------------------------------------------------------------
# part 1: latency
# --------------------------------------------------------------------------------------------------

def window_events(k: int, per_window: int, rng: random.Random) -> list[str]:
    """Events of window k (all four tenants), event times inside the window after its predecessor's
    closing event (window start + 30 s), ascending."""
    start = BASE + k * SIZE
    times = sorted(start + timedelta(seconds=31) + timedelta(milliseconds=rng.randint(0, 14 * 60 * 1000 - 2000))
                   for _ in range(per_window))
    lines = []
    for i, at in enumerate(times):
        tenant = TENANTS[i % len(TENANTS)]
        state = rng.choice(["created", "active", "completed", "abandoned"])
        metadata: dict = {"agent_id": rng.choice(AGENTS), "intent": rng.choice(INTENTS)}
        if state == "completed":
            metadata.update(duration_ms=rng.randint(1000, 600_000), turn_count=rng.randint(1, 12))
        lines.append(json.dumps({
            "event_id": f"e2e-{k:04d}-{i:04d}", "event_type": "state_change", "tenant_id": tenant,
            "entity_type": "session_phase", "entity_id": f"sess-{k:04d}-{i // 4:03d}", "from_state": "active",
            "to_state": state, "triggered_by": f"user-{rng.randint(1, 20):03d}@{tenant}",
            "metadata": json.dumps(metadata, separators=(",", ":")), "timestamp": ts(at)}, separators=(",", ":")))
    return lines


def closing_event(k: int) -> str:
    """Event time = end of window k + the watermark delay: the watermark reaches the window's end."""
    at = BASE + (k + 1) * SIZE + DELAY
    return json.dumps({
        "event_id": f"e2e-close-{k:04d}", "event_type": "state_change", "tenant_id": TENANTS[k % len(TENANTS)],
        "entity_type": "session_phase", "entity_id": f"sess-close-{k:04d}", "from_state": "created",
        "to_state": "active", "triggered_by": "user-001@acme",
        "metadata": json.dumps({"agent_id": "planner", "intent": "forecast"}), "timestamp": ts(at)},
        separators=(",", ":"))


@dataclass
class Series:
    interval: str
    latencies: list[float] = field(default_factory=list)
    poll_query_s: list[float] = field(default_factory=list)
    checkpoints: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def latency_series(copy: Copy, windows: int, per_window: int, seed: int, timeout: float) -> Series:
    from confluent_kafka import Producer

    interval_s = parse_seconds(copy.interval)
    jid = deploy(copy)
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 0, "acks": "all"})
    connection = trino_connect()
    rng = random.Random(seed)
    series = Series(copy.interval)
    table = f"iceberg.{copy.namespace}.{MODEL}"
    for k in range(windows + 1):  # window 0: warm-up (job start, first commit, Trino's first read of the table)
        for line in window_events(k, per_window, rng):
            producer.produce(TOPIC, line.encode())
        if producer.flush(30) != 0:
            raise BenchError("the producer could not deliver the window's events in 30 s")
        time.sleep(rng.uniform(0.5, interval_s + 0.5))
        acked: dict = {}

        def delivered(err, _msg, acked=acked):
            acked["t"], acked["err"] = time.monotonic(), err

        producer.produce(TOPIC, closing_event(k).encode(), on_delivery=delivered)
        producer.flush(30)
        if acked.get("err") is not None or "t" not in acked:
            raise BenchError(f"closing event of window {k} not delivered: {acked.get('err')}")
        start = BASE + k * SIZE
        sql = f"SELECT count(*) FROM {table} WHERE window_start = TIMESTAMP '{sql_ts(start)}'"
        deadline = acked["t"] + timeout
        visible = None
        while time.monotonic() < deadline:
            q0 = time.monotonic()
            count = trino_scalar(connection, sql)
            q1 = time.monotonic()
            if k:
                series.poll_query_s.append(q1 - q0)
            if count >= len(TENANTS):
                visible = q1
                break
            time.sleep(0.2)
        label = "warm-up window" if k == 0 else f"window {k}/{windows}"
        if visible is None:
            series.failures.append(f"{label} ({sql_ts(start)}) not visible after {timeout:.0f} s")
            log(f"  {label}: NOT visible after {timeout:.0f} s")
            continue
        latency = visible - acked["t"]
        log(f"  {label} {sql_ts(start)[:16]}: visible {latency:.2f} s after its closing event was acknowledged")
        if k:
            series.latencies.append(latency)
    series.checkpoints = checkpoint_summary(jid)
    return series


def parse_seconds(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|second|seconds|min|minute|minutes)?\s*", text)
    if not m:
        raise BenchError(f"cannot read the interval {text!r} (e.g. '2 s', '10 s', '500 ms')")
    value, unit = float(m.group(1)), (m.group(2) or "s")
    return value / 1000 if unit == "ms" else value * 60 if unit.startswith("min") else value


# --------------------------------------------------------------------------------------------------
# part 2: reconcile on N events
# --------------------------------------------------------------------------------------------------

def expected_closed(lines: list[str]) -> tuple[int, datetime]:
    """(window, tenant) rows the job emits for these events, once its final watermark has passed, with
    the job's rules: unparseable lines and events without event time skipped (they do not move the
    watermark), late events (watermark before them = max earlier event time - delay has reached their
    window end - 1 ms) dropped, filter entity_type = 'session_phase', tenant_id required. Returns the
    count and the last (largest) event time."""
    size_ms = int(SIZE.total_seconds() * 1000)
    epoch = datetime(1970, 1, 1)
    one_ms = timedelta(milliseconds=1)
    latest: datetime | None = None
    keys: set[tuple[datetime, str]] = set()
    for line in lines:
        try:
            event = json.loads(line)
            at = datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f")
        except (ValueError, KeyError, TypeError):
            continue
        millis = (at - epoch) // one_ms
        start = at - timedelta(milliseconds=millis % size_ms)
        late = latest is not None and start + SIZE - one_ms <= latest - DELAY
        if not late and event.get("entity_type") == "session_phase" and event.get("tenant_id") is not None:
            keys.add((start, event["tenant_id"]))
        latest = at if latest is None or at > latest else latest
    if latest is None:
        raise BenchError("no event with an event time")
    watermark = latest - DELAY
    return sum(1 for start, _ in keys if start + SIZE - one_ms <= watermark), latest


@dataclass
class ReconcileResult:
    events: int = 0
    generate_s: float = 0.0
    produce_s: float = 0.0
    produce_mb: float = 0.0
    expected_rows: int = 0
    sink_rows: int = 0
    caught_up_s: float | None = None
    cutoff: str = ""
    cli_s: float = 0.0
    cli_exit: int | None = None
    report: dict = field(default_factory=dict)
    cli_stderr: str = ""
    cli_error: str = ""
    query_error: str = ""
    query_s: float = 0.0
    query_stats: dict = field(default_factory=dict)
    trino_rss_before_mb: float | None = None
    trino_rss_peak_cli_mb: float | None = None
    trino_rss_peak_query_mb: float | None = None
    trino_hwm_mb: float | None = None
    checkpoints: dict = field(default_factory=dict)


def produce_bulk(lines: list[bytes]) -> tuple[float, float]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 50, "batch.num.messages": 100_000,
                         "batch.size": 1_000_000, "queue.buffering.max.messages": 2_000_000,
                         "queue.buffering.max.kbytes": 2_097_152, "acks": "all"})
    errors: list = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(err)

    t0 = time.monotonic()
    for i, line in enumerate(lines):
        while True:
            try:
                producer.produce(TOPIC, line, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    remaining = producer.flush(300)
    seconds = time.monotonic() - t0
    if remaining or errors:
        raise BenchError(f"producer: {remaining} message(s) undelivered, {len(errors)} error(s) (first: {errors[:1]})")
    return seconds, sum(len(x) for x in lines) / 1e6


def reconcile_part(copy: Copy, events: int, timeout: float) -> ReconcileResult:
    from streammetrics.generate import generate
    from streammetrics.project import load_project

    result = ReconcileResult(events=events)
    jid = deploy(copy)
    source = load_project(copy.root).sources["state_changes"]
    log(f"generating {events:,} events (streammetrics.generate, seed 7)")
    t0 = time.monotonic()
    lines = list(generate(source, events, seed=7))
    result.generate_s = time.monotonic() - t0
    result.expected_rows, latest = expected_closed(lines)
    log(f"  generated in {result.generate_s:.1f} s; last event time {sql_ts(latest)}; the job will have closed "
        f"{result.expected_rows:,} (window, tenant) rows")
    encoded = [line.encode() for line in lines]
    del lines
    log(f"producing {events:,} events to {TOPIC}")
    produce_start = time.monotonic()
    result.produce_s, result.produce_mb = produce_bulk(encoded)
    produced = time.monotonic()
    del encoded
    log(f"  produced in {result.produce_s:.1f} s ({events / result.produce_s:,.0f} events/s, "
        f"{result.produce_mb / result.produce_s:.1f} MB/s)")

    connection = trino_connect()
    table = f"iceberg.{copy.namespace}.{MODEL}"
    log(f"waiting until the sink holds the {result.expected_rows:,} closed rows")
    deadline = produced + timeout
    last_report = 0.0
    while time.monotonic() < deadline:
        result.sink_rows = trino_scalar(connection, f"SELECT count(*) FROM {table}")
        if result.sink_rows >= result.expected_rows:
            result.caught_up_s = time.monotonic() - produce_start
            break
        if time.monotonic() - last_report > 15:
            log(f"  sink rows {result.sink_rows:,} / {result.expected_rows:,}")
            last_report = time.monotonic()
        time.sleep(2)
    if result.caught_up_s is None:
        log(f"  the sink holds {result.sink_rows:,} of {result.expected_rows:,} rows after {timeout:.0f} s; reconciling anyway")
    else:
        log(f"  all closed rows visible {result.caught_up_s:.1f} s after production started "
            f"({time.monotonic() - produced:.1f} s after the producer finished)")
    result.checkpoints = checkpoint_summary(jid)

    cutoff = (latest - DELAY).replace(microsecond=0)
    result.cutoff = cutoff.strftime("%Y-%m-%d %H:%M:%S")
    pid = trino_pid()
    if pid:
        rss = proc_kb(pid, "VmRSS")
        result.trino_rss_before_mb = rss / 1024 if rss else None
    log(f"timing: compile.py reconcile --until '{result.cutoff}' (subprocess)")
    with RssSampler(pid) as sampler:
        t0 = time.monotonic()
        proc = cli(copy, "reconcile", "--target", "stack", "--select", MODEL, "--format", "json",
                   "--until", result.cutoff, timeout=1800)
        result.cli_s = time.monotonic() - t0
    result.trino_rss_peak_cli_mb = sampler.peak_kb / 1024 if sampler.peak_kb else None
    result.cli_exit, result.cli_stderr = proc.returncode, proc.stderr
    try:
        result.report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result.report = {}
    log(f"  exit {proc.returncode} in {result.cli_s:.1f} s")
    if proc.returncode not in (0, 3):
        errors = [line.strip() for line in proc.stderr.splitlines() if line.strip().startswith(("Error", "Internal error"))]
        result.cli_error = (errors[0] if errors else (proc.stderr.strip().splitlines() or ["no output"])[-1])[:600]
        log(f"  reconcile failed: {result.cli_error}")

    from streammetrics.profiles import resolve_placeholders

    sql = resolve_placeholders((copy.root / "target" / f"{MODEL}.trino.sql").read_text())
    log("timing: the compiled Trino query alone (trino client)")
    rows: list = []
    with RssSampler(pid) as sampler:
        cursor = connection.cursor()
        t0 = time.monotonic()
        try:
            cursor.execute(sql, [cutoff])
            rows = cursor.fetchall()
        except Exception as exc:  # noqa: BLE001 - a failing query is a result of the benchmark
            result.query_error = one_line(exc)
        result.query_s = time.monotonic() - t0
    result.trino_rss_peak_query_mb = sampler.peak_kb / 1024 if sampler.peak_kb else None
    stats = cursor.stats or {}
    result.query_stats = {k: stats.get(k) for k in ("elapsedTimeMillis", "cpuTimeMillis", "processedRows",
                                                      "processedBytes", "peakMemoryBytes", "queryId")}
    result.query_stats["mismatch_rows"] = len(rows)
    if pid:
        hwm = proc_kb(pid, "VmHWM")
        result.trino_hwm_mb = hwm / 1024 if hwm else None
    if result.query_error:
        log(f"  FAILED after {result.query_s:.1f} s: {result.query_error}")
    else:
        log(f"  {result.query_s:.1f} s, {len(rows)} mismatch row(s)")
    return result


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:600]


# --------------------------------------------------------------------------------------------------
# cleanup and report
# --------------------------------------------------------------------------------------------------

def cleanup(copies: list[Copy]) -> None:
    try:
        cancel_model_jobs()
    except Exception as exc:  # noqa: BLE001 - best effort
        log(f"cleanup: could not cancel the job: {exc}")
    try:
        connection = trino_connect()
        for copy in copies:
            for sql in (f"DROP TABLE IF EXISTS iceberg.{copy.namespace}.{MODEL}", f"DROP SCHEMA IF EXISTS iceberg.{copy.namespace}"):
                cursor = connection.cursor()
                cursor.execute(sql)
                cursor.fetchall()
        log(f"cleanup: dropped the namespaces {', '.join(c.namespace for c in copies) or '-'}")
    except Exception as exc:  # noqa: BLE001 - best effort
        log(f"cleanup: could not drop the bench namespaces: {str(exc).splitlines()[0][:200]}")
    try:
        reset_topic()
        log(f"cleanup: topic {TOPIC} recreated empty")
    except Exception as exc:  # noqa: BLE001 - best effort
        log(f"cleanup: could not recreate the topic: {exc}")


def fmt_s(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def mb(value: float | None) -> str:
    return f"{value:,.0f} MB" if value is not None else "-"


def report_table(series: list[Series], rec: ReconcileResult | None, windows: int, per_window: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for s in series:
        n = len(s.latencies)
        rows.append((f"latency, checkpoint interval {s.interval}: min / median / max (s), {n} of {windows} windows",
                     fmt_s(s.latencies)))
        rows.append(("  Trino poll query (s): min / median / max", fmt_s(s.poll_query_s)))
        if s.checkpoints:
            c = s.checkpoints
            rows.append(("  Flink checkpoints completed / p50 / max duration (ms)",
                         f"{c.get('completed')} / {c.get('p50_ms')} / {c.get('max_ms')}"))
        for failure in s.failures:
            rows.append(("  FAILED", failure))
    if rec is not None:
        rows.append(("events in the topic", f"{rec.events:,} ({rec.produce_mb:,.0f} MB)"))
        rows.append(("generate (streammetrics.generate)", f"{rec.generate_s:.1f} s"))
        rows.append(("produce (confluent_kafka, linger 50 ms, acks all)",
                     f"{rec.produce_s:.1f} s = {rec.events / rec.produce_s:,.0f} events/s, {rec.produce_mb / rec.produce_s:.1f} MB/s"))
        rows.append(("job caught up: closed rows in the sink / expected",
                     f"{rec.sink_rows:,} / {rec.expected_rows:,}"
                     + (f", {rec.caught_up_s:.1f} s after production started" if rec.caught_up_s is not None else ", NOT caught up")))
        if rec.checkpoints:
            c = rec.checkpoints
            rows.append(("  Flink checkpoints completed / p50 / max duration (ms)",
                         f"{c.get('completed')} / {c.get('p50_ms')} / {c.get('max_ms')}"))
        rows.append(("reconcile cut-off (--until = last event time - 30 s)", rec.cutoff))
        rows.append(("reconcile wall time (compile.py subprocess)", f"{rec.cli_s:.1f} s (exit {rec.cli_exit})"))
        r = rec.report
        if r:
            rows.append(("  windows checked / matched / mismatched",
                         f"{r.get('windows_checked'):,} / {r.get('windows_matched'):,} / {r.get('windows_mismatched'):,}"))
            rows.append(("  explained by lateness / duplicate messages",
                         f"{len(r.get('explained_by_lateness') or [])} / {r.get('duplicate_messages')}"))
        else:
            rows.append(("  reconcile FAILED", rec.cli_error or "no JSON output"))
        st = rec.query_stats
        rows.append(("compiled Trino query alone (trino client, wall)",
                     f"{rec.query_s:.1f} s" + (" (FAILED, below)" if rec.query_error else "")))
        if rec.query_error:
            rows.append(("  query FAILED", rec.query_error))
        if st.get("elapsedTimeMillis") is not None:
            until = " (until it failed)" if rec.query_error else ""
            rows.append((f"  Trino elapsed / CPU{until}", f"{st['elapsedTimeMillis'] / 1000:.1f} s / {st['cpuTimeMillis'] / 1000:.1f} s"))
            rows.append((f"  Trino rows / bytes processed / peak query memory{until}",
                         f"{st['processedRows']:,} / {st['processedBytes'] / 1e6:,.0f} MB / {st['peakMemoryBytes'] / 1e6:,.0f} MB"))
        rows.append(("Trino JVM RSS before / peak during reconcile / peak during query",
                     f"{mb(rec.trino_rss_before_mb)} / {mb(rec.trino_rss_peak_cli_mb)} / {mb(rec.trino_rss_peak_query_mb)}"))
        rows.append(("Trino JVM VmHWM (peak since its start)", mb(rec.trino_hwm_mb)))
    return rows


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="End-to-end latency (last event of a window in Kafka -> its rows visible in Trino) and "
                    "reconcile time for N events, on the local stack.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--windows", type=int, default=5, metavar="K", help="measured windows per latency series (plus one warm-up)")
    parser.add_argument("--events", type=int, default=1_000_000, metavar="N", help="generated events in the topic for the reconcile timing")
    parser.add_argument("--events-per-window", type=int, default=40, help="hand-made events per window in the latency series")
    parser.add_argument("--fast-interval", default="2 s", help="checkpoint interval of the second latency series ('' to skip it)")
    parser.add_argument("--keep-stack", action="store_true", help="leave the stack running (default: stop what this run started)")
    parser.add_argument("--skip-latency", action="store_true", help="only the reconcile part")
    parser.add_argument("--skip-reconcile", action="store_true", help="only the latency part")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="keep the job, the bench namespaces and the topic's events (default: cancel, drop, recreate the topic empty)")
    parser.add_argument("--window-timeout", type=float, default=120, help="seconds to wait for a window's rows")
    parser.add_argument("--catch-up-timeout", type=float, default=1200, help="seconds to wait for the job to commit the closed windows")
    parser.add_argument("--seed", type=int, default=1, help="seed of the hand-made events and the waits")
    args = parser.parse_args(argv)

    started: list[str] = []
    copies: list[Copy] = []
    series: list[Series] = []
    rec: ReconcileResult | None = None
    workdir = Path(tempfile.mkdtemp(prefix="smx-e2e-"))
    try:
        started = ensure_stack()
        if not args.skip_latency:
            intervals: list[str | None] = [None] + ([args.fast_interval] if args.fast_interval else [])
            for i, interval in enumerate(intervals):
                copy = make_copy(workdir, f"lat{i}", interval)
                copies.append(copy)
                log(f"latency series {i + 1}/{len(intervals)}: checkpoint interval {copy.interval}, "
                    f"{args.windows} windows + 1 warm-up")
                series.append(latency_series(copy, args.windows, args.events_per_window, args.seed + i, args.window_timeout))
        if not args.skip_reconcile:
            copy = make_copy(workdir, "rec", None)
            copies.append(copy)
            log(f"reconcile part: {args.events:,} events, checkpoint interval {copy.interval}")
            rec = reconcile_part(copy, args.events, args.catch_up_timeout)
    except BenchError as exc:
        log(f"ERROR: {exc}")
        return 1
    finally:
        if not args.no_cleanup:
            cleanup(copies)
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep_stack:
            stop_stack(started)
        elif started:
            log(f"stack: left running (--keep-stack); it was started by this run ({' '.join(started)})")

    print_table(report_table(series, rec, args.windows, args.events_per_window))
    if rec is not None and rec.report.get("mismatches"):
        mismatches = rec.report["mismatches"]
        print(f"\nfirst mismatches ({len(mismatches)} in all), verbatim from reconcile --format json:")
        print(json.dumps(mismatches[:10], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
