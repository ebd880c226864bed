#!/usr/bin/env python3
"""Throughput benchmark: the compiled session_analytics Flink job vs a pass-through job, same source.

Goal (from the issue): on a replay of 1,000,000 generated events, (a) the compiled session_analytics
job reaches at least 0.8 of the events/s of (b) a pass-through job on the same source (parse the
JSON, apply the model's filter, write every source column to a blackhole sink). Also: peak memory
(VmHWM) of the Flink JVM.

    ~/.cache/smx/venv/bin/python bench/throughput_bench.py                    # a vs b, p=1 and p=2
    ~/.cache/smx/venv/bin/python bench/throughput_bench.py --experiments      # + one-at-a-time variations
    ~/.cache/smx/venv/bin/python bench/throughput_bench.py --experiments --repeat 1 --only sql-functions

How it measures:
- The events file (1,000,000 lines from streammetrics.generate, seed 7) is generated once into
  ~/.cache/streammetrics/bench/events-<n>.jsonl (--regenerate to rewrite it).
- (a) is the compiled INSERT unchanged except connectors (FlinkScript.with_connectors: filesystem
  source with the Kafka source's JSON options, blackhole sink); (b) is the same source DDL and
  `INSERT INTO blackhole SELECT * FROM <source> WHERE <model filter> AND tenant_id IS NOT NULL AND
  `timestamp` IS NOT NULL`. Both run with the compiled script's SET options minus checkpointing, plus
  `parallelism.default` (--parallelism, default 1,2) and the variant's overrides.
- Every measurement is a fresh Python subprocess (so a fresh JVM / mini-cluster) that replays the
  file --runs-per-jvm times (default 3): the first replay is "cold" (the JVM loads classes and the
  JIT compiles Flink, Jackson and the job's generated code while the job runs), the later ones are
  "warm" (as a TaskManager that has run for a while). Subprocesses alternate a, b, a, b, ... for
  --repeat rounds; medians are reported. The time is from `execute_sql(insert)` (submit, planning
  included) to `.wait()` returning; JVM start and DDL are not timed. events/s = lines in the file /
  seconds (malformed lines count, as they are read). `a/b net` uses Flink's job net runtime instead
  (without planning and submission); `CPU s` is the JVM's user+system CPU time per replay (all
  threads: JIT compilers and GC too), from /proc/<pid>/stat.
- Peak memory: VmHWM (peak resident set) of the java process that PyFlink launched (a child of the
  worker's Python process), read from /proc after the job finished.
- The worker also records the optimized plan (EXPLAIN, before the timed run, untimed) so that the
  table says whether a setting changed the plan at all ("plan" column: = same as default, * changed).

Nothing is written inside the repository (the model is compiled into a temporary directory).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = "session_analytics"
GOAL = 0.8
DEFAULT_CACHE = Path.home() / ".cache/streammetrics/bench"
DROPPED_SETTINGS = ("execution.checkpointing.interval", "execution.checkpointing.mode")
PASS_SINK = "passthrough__sink"
BASELINE_SINK = "baseline__sink"


def log(msg: str) -> None:
    print(f"[throughput] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# worker: one measurement in a fresh Python process (fresh JVM)
# --------------------------------------------------------------------------------------------------

def _java_children(pid: int) -> list[int]:
    """Descendant processes of `pid` whose executable name is java (PyFlink's gateway JVM)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids: list[int] = []
        for tid in os.listdir(f"/proc/{parent}/task") if os.path.isdir(f"/proc/{parent}/task") else []:
            try:
                kids += [int(k) for k in Path(f"/proc/{parent}/task/{tid}/children").read_text().split()]
            except OSError:
                pass
        for kid in kids:
            try:
                comm = Path(f"/proc/{kid}/comm").read_text().strip()
            except OSError:
                continue
            if comm == "java":
                found.append(kid)
            todo.append(kid)
    return found


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the JVM(s) so far: all its threads, JIT compilers and GC included."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


class ThreadSampler:
    """During one replay, samples /proc every 0.1 s for (1) the CPU seconds of each JVM thread (task
    threads end with the job, so the last value seen per thread id is kept; Linux keeps 15 characters
    of a thread name, and digits are removed to group them: "GC Thread#1" -> "GC Thread#") and (2)
    the read offset of the events file, for the steady-state rate."""

    def __init__(self, pids: list[int], events_file: str | None = None, nice: dict[str, int] | None = None):
        import threading

        self.pids, self.seen, self.base = pids, {}, {}
        self.nice, self.reniced = nice or {}, set()  # thread-name prefix -> nice value (an experiment)
        self.events_file, self.fd, self.positions = events_file, None, []  # (monotonic s, byte offset)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _read(self) -> dict[tuple[int, int], tuple[str, float]]:
        out = {}
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.pids:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                except OSError:
                    continue
                name = raw[raw.index("(") + 1:raw.rindex(")")]
                fields = raw.rsplit(")", 1)[1].split()
                out[(pid, int(tid))] = (name, (int(fields[11]) + int(fields[12])) / tick)
        return out

    def _position(self) -> int | None:
        """Read offset of the JVM's open events file (the source's fetcher), from /proc/<pid>/fdinfo."""
        if not self.events_file:
            return None
        for pid in self.pids:
            candidates = [self.fd] if self.fd else (os.listdir(f"/proc/{pid}/fd") if os.path.isdir(f"/proc/{pid}/fd") else [])
            for fd in candidates:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") != self.events_file:
                        continue
                    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
                        if line.startswith("pos:"):
                            self.fd = fd
                            return int(line.split()[1])
                except OSError:
                    pass
        self.fd = None
        return None

    def _renice(self) -> None:
        for (_, tid), (name, _) in self.seen.items():
            for prefix, value in self.nice.items():
                if name.startswith(prefix) and tid not in self.reniced:
                    try:
                        os.setpriority(os.PRIO_PROCESS, tid, value)
                        self.reniced.add(tid)
                    except OSError:
                        pass

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self.seen.update(self._read())
            self._renice()
            position = self._position()
            if position is not None:
                self.positions.append((time.perf_counter(), position))

    def steady_rate(self, size: int, lines: int, start: float = 0.4, end: float = 0.95) -> float | None:
        """Events/s while the source read the file from `start` to `end` of its bytes: the rate once
        the job has warmed up (JIT compilation of the job's code happens in its first seconds)."""
        first = next(((t, p) for t, p in self.positions if p >= start * size), None)
        last = next(((t, p) for t, p in self.positions if p >= end * size), None)
        if not first or not last or last[0] <= first[0]:
            return None
        return (last[1] - first[1]) / size * lines / (last[0] - first[0])

    def __enter__(self):
        self.base = self._read()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.seen.update(self._read())

    def by_name(self) -> dict[str, float]:
        groups: dict[str, float] = {}
        for key, (name, cpu) in self.seen.items():
            used = cpu - self.base.get(key, (name, 0.0))[1]
            if used > 0:
                group = re.sub(r"\d+", "", name)
                groups[group] = groups.get(group, 0.0) + used
        return groups


def worker(spec_path: str, result_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    from streammetrics.embedded import table_environment

    env = table_environment(spec["settings"])
    for ddl in spec["ddl"]:
        env.execute_sql(ddl)
    if spec.get("passthrough"):
        # a blackhole sink with every column of the source (computed rowtime included), as SELECT * has
        source = spec["source_table"]
        described = list(env.execute_sql(f"DESCRIBE {source}").collect())
        columns = ", ".join(f"`{row[0]}` {str(row[1]).replace(' *ROWTIME*', '').replace(' NOT NULL', '')}"
                            for row in described)
        env.execute_sql(f"CREATE TEMPORARY TABLE {PASS_SINK} ({columns}) WITH ('connector' = 'blackhole')")
    insert = spec["insert"]
    javas = _java_children(os.getpid())
    plan = env.explain_sql(insert)
    optimized = plan.split("== Optimized Execution Plan ==")[-1]
    optimized = re.sub(r"\b(\w+)\$\d+\b", r"\1", optimized)  # field ids vary between runs
    operators = sorted(set(re.findall(r"^\s*[+:-]*\s*(\w+)\(", optimized, re.M)))
    runs = []
    for _ in range(spec.get("runs", 1)):
        cpu_before = _cpu_seconds(javas)
        with ThreadSampler(javas, spec.get("events_file"), spec.get("nice")) as sampler:
            started = time.perf_counter()
            result = env.execute_sql(insert)
            submitted = time.perf_counter()
            result.wait()
            finished = time.perf_counter()
        net_ms = None
        try:
            job_result = result.get_job_client().get_job_execution_result().result()
            net_ms = job_result.get_net_runtime()
        except Exception:  # noqa: BLE001 - informational only
            pass
        runs.append({"seconds": finished - started, "submit_seconds": submitted - started, "net_runtime_ms": net_ms,
                     "cpu_seconds": _cpu_seconds(javas) - cpu_before, "threads": sampler.by_name(),
                     "reniced": len(sampler.reniced),
                     "steady_eps": sampler.steady_rate(spec["events_size"], spec["events_lines"],
                                                       spec.get("steady_from", 0.4))
                     if spec.get("events_file") else None})
    hwm = max((_vm_hwm_kb(p) or 0 for p in javas), default=None) if javas else None
    Path(result_path).write_text(json.dumps({
        "runs": runs,
        "vm_hwm_kb": hwm,
        "java_pids": javas,
        "plan_digest": hashlib.sha256(optimized.encode()).hexdigest()[:12],
        "operators": operators,
        "plan": optimized,
    }))
    return 0


# --------------------------------------------------------------------------------------------------
# building the jobs
# --------------------------------------------------------------------------------------------------

@dataclass
class Jobs:
    settings: dict[str, str]          # compiled SET options, checkpointing removed
    ddl: list[str]                    # functions, source + sink DDL of the compiled script, connectors swapped
    source_ddl: str
    source_table: str
    insert: str                       # compiled INSERT (sink renamed to the blackhole table)
    passthrough: str
    sql_ddl: list[str]                # the same model compiled with `flink.functions: sql`
    sql_insert: str
    baseline_ddl: list[str]
    baseline: str
    events: dict = field(default_factory=dict)  # events_file, events_size, events_lines (steady-state rate)


def _local_script(flink_sql: str, events: Path) -> tuple[dict[str, str], list[str], str]:
    """(settings, DDL statements, INSERT) of a compiled script with the bench's connectors."""
    from sqlglot import exp

    from streammetrics import functions
    from streammetrics.dialects import FLINK
    from streammetrics.flinkscript import FlinkScript
    from streammetrics.runner import file_source_options

    script = FlinkScript.parse(functions.resolve(flink_sql))
    local = script.with_connectors(file_source_options(script, events), {"connector": "blackhole"})
    settings = {k: v for k, v in local.settings.items() if k not in DROPPED_SETTINGS}
    ddl = [statement.sql(FLINK, comments=False) for statement in local.statements
           if not isinstance(statement, exp.Insert)]
    (insert,) = local.inserts()
    return settings, ddl, insert.sql(FLINK)


def compile_model(events: Path) -> Jobs:
    from streammetrics.context import Context
    from streammetrics.flink import compile_flink

    context = Context(REPO)
    with tempfile.TemporaryDirectory(prefix="smx-throughput-") as tmp:
        context.output_dir = Path(tmp)
        compiled = context.compile([MODEL]).compiled[0]
    settings, ddl, insert = _local_script(compiled.flink_sql, events)
    _, target = context.load_target()
    sql_target = target.model_copy(update={"flink": target.flink.model_copy(update={"functions": "sql"})})
    _, sql_ddl, sql_insert = _local_script(compile_flink(compiled.model, sql_target), events)
    model = compiled.model
    source_table = model.source.name
    source_ddl = next(d for d in ddl if d.startswith(f"CREATE TEMPORARY TABLE {source_table} "))
    not_null = " AND ".join(f"`{c.name}` IS NOT NULL" for c in model.source.columns if not c.nullable)
    event_time = model.source.event_time
    if f"`{event_time}` IS NOT NULL" not in not_null:
        not_null += f" AND `{event_time}` IS NOT NULL"
    where = f"({model.spec.filter}) AND {not_null}" if model.spec.filter else not_null
    passthrough = f"INSERT INTO {PASS_SINK} SELECT * FROM {source_table} WHERE {where}"
    baseline_ddl, baseline = _baseline(source_table, where)
    return Jobs(settings, ddl, source_ddl, source_table, insert, passthrough, sql_ddl, sql_insert, baseline_ddl,
                baseline)


def _baseline(source: str, where: str) -> tuple[list[str], str]:
    """The straightforward hand-written window query: COUNT(DISTINCT), AVG over JSON_VALUE, no top_n.
    TRY_CAST, not CAST: the events hold "abc" durations, and CAST would fail the job."""
    ddl = [f"""CREATE TEMPORARY TABLE {BASELINE_SINK} (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), tenant_id STRING, total_sessions BIGINT,
  avg_duration_ms DOUBLE, avg_turns DOUBLE, completion_rate DOUBLE, unique_users BIGINT
) WITH ('connector' = 'blackhole')"""]
    query = f"""INSERT INTO {BASELINE_SINK}
SELECT window_start, window_end, tenant_id,
  COUNT(DISTINCT entity_id),
  AVG(TRY_CAST(JSON_VALUE(metadata, '$.duration_ms') AS DOUBLE)),
  AVG(TRY_CAST(JSON_VALUE(metadata, '$.turn_count') AS DOUBLE)),
  CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / GREATEST(COUNT(DISTINCT entity_id), 1),
  COUNT(DISTINCT triggered_by)
FROM TABLE(TUMBLE(TABLE {source}, DESCRIPTOR(rowtime), INTERVAL '15' MINUTE))
WHERE {where}
GROUP BY window_start, window_end, tenant_id"""
    return ddl, query


# --------------------------------------------------------------------------------------------------
# variants and measurements
# --------------------------------------------------------------------------------------------------

@dataclass
class Variant:
    name: str
    what: str
    overrides: dict[str, str] = field(default_factory=dict)
    query: str = "compiled"          # compiled | sql_functions | baseline
    parallelism: int | None = None   # None: the run's --parallelism
    jvm_args: str = ""               # JVM options of the worker (a and b)
    nice: dict[str, int] = field(default_factory=dict)  # JVM thread-name prefix -> Linux nice value


MINI_BATCH = {"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "1 s",
              "table.exec.mini-batch.size": "5000"}

EXPERIMENTS = [
    Variant("sql-functions", "the model compiled with flink.functions: sql (JSON_VALUE per path, Top-N pipeline)",
            query="sql_functions"),
    Variant("split-distinct", "table.optimizer.distinct-agg.split.enabled=true (compiled: false)",
            {"table.optimizer.distinct-agg.split.enabled": "true"}),
    Variant("two-phase", "table.optimizer.agg-phase-strategy=AUTO (compiled: ONE_PHASE; AUTO = local + global here)",
            {"table.optimizer.agg-phase-strategy": "AUTO"}),
    Variant("no-object-reuse", "pipeline.object-reuse=false (compiled: true; a and b)",
            {"pipeline.object-reuse": "false"}),
    Variant("no-reuse+two-phase", "pipeline.object-reuse=false and agg-phase-strategy=AUTO (the previous settings)",
            {"pipeline.object-reuse": "false", "table.optimizer.agg-phase-strategy": "AUTO"}),
    Variant("mini-batch", "table.exec.mini-batch.enabled=true, allow-latency=1 s, size=5000", dict(MINI_BATCH)),
    Variant("rocksdb", "state.backend.type=rocksdb (default: hashmap)", {"state.backend.type": "rocksdb"}),
    Variant("win-buffer-1m", "table.exec.window-agg.buffer-size-limit=1000000 (default 100000)",
            {"table.exec.window-agg.buffer-size-limit": "1000000"}),
    Variant("wm-interval-0", "pipeline.auto-watermark-interval=0 ms (runner.DETERMINISTIC)",
            {"pipeline.auto-watermark-interval": "0 ms"}),
    Variant("no-chaining", "pipeline.operator-chaining.enabled=false (operators in their own threads)",
            {"pipeline.operator-chaining.enabled": "false"}),
    Variant("p2", "parallelism.default=2", parallelism=2),
    Variant("buffer-timeout-off", "execution.buffer-timeout.enabled=false (network buffers sent when full)",
            {"execution.buffer-timeout.enabled": "false"}),
    Variant("segment-128kb", "taskmanager.memory.segment-size=128kb (default 32kb)",
            {"taskmanager.memory.segment-size": "128kb"}),
    Variant("queue-16", "source.reader.element.queue.capacity=16 (batches of 100 lines between the file source's "
            "fetcher and task threads; default 2; a TaskManager setting on a cluster, and the Kafka source ignores it)",
            {"source.reader.element.queue.capacity": "16"}),
    Variant("queue-64", "source.reader.element.queue.capacity=64 (default 2)", {"source.reader.element.queue.capacity": "64"}),
    Variant("queue-256", "source.reader.element.queue.capacity=256 (default 2)",
            {"source.reader.element.queue.capacity": "256"}),
    Variant("more-net-buffers", "network buffers per channel 8 (default 2), floating per gate 32 (8), max per channel 50 (10)",
            {"taskmanager.network.memory.buffers-per-channel": "8",
             "taskmanager.network.memory.floating-buffers-per-gate": "32",
             "taskmanager.network.memory.max-buffers-per-channel": "50"}),
    Variant("nice-window", "the window aggregation's thread at nice 10 (Linux scheduling priority; a diagnosis, not a setting)",
            nice={"WindowAggregat": 10}),
    Variant("nice-fetcher", "the source fetcher thread at nice -10 (a and b; a diagnosis, not a setting)",
            nice={"Source Data Fet": -10}),
    Variant("jit-c1", "JVM -XX:TieredStopAtLevel=1 (C1 JIT only: cheaper compilation, slower code; a and b)",
            jvm_args="-XX:TieredStopAtLevel=1"),
    Variant("baseline", "hand-written window query: COUNT(DISTINCT), AVG(JSON_VALUE), no top_n", query="baseline"),
]


def job_spec(jobs: Jobs, variant: Variant, side: str, parallelism: int, runs: int) -> dict:
    settings = dict(jobs.settings)
    settings["parallelism.default"] = str(variant.parallelism or parallelism)
    settings.update(variant.overrides)
    common = {"settings": settings, "source_table": jobs.source_table, "runs": runs, **jobs.events,
              "jvm_args": variant.jvm_args, "nice": variant.nice}
    if side == "b":
        return {**common, "ddl": [jobs.source_ddl], "insert": jobs.passthrough, "passthrough": True}
    if variant.query == "baseline":
        return {**common, "ddl": [jobs.source_ddl, *jobs.baseline_ddl], "insert": jobs.baseline}
    if variant.query == "sql_functions":
        return {**common, "ddl": jobs.sql_ddl, "insert": jobs.sql_insert}
    return {**common, "ddl": jobs.ddl, "insert": jobs.insert}


def measure(spec: dict, python: str, timeout: float, jfr: Path | None = None) -> dict:
    """One worker subprocess. `jfr`: record the JVM with Java Flight Recorder into that file (PyFlink
    passes JVM_ARGS to the JVM it launches)."""
    env = dict(os.environ)
    if spec.get("jvm_args"):
        env["JVM_ARGS"] = f"{env.get('JVM_ARGS', '')} {spec['jvm_args']}".strip()
    if jfr is not None:
        jfr.parent.mkdir(parents=True, exist_ok=True)
        env["JVM_ARGS"] = f"{env.get('JVM_ARGS', '')} -XX:StartFlightRecording=filename={jfr},settings=profile".strip()
    with tempfile.TemporaryDirectory(prefix="smx-throughput-run-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run([python, str(Path(__file__).resolve()), "--_worker", str(spec_path), str(result_path)],
                              cwd=tmp, capture_output=True, text=True, timeout=timeout, env=env)
        if proc.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"worker failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        return json.loads(result_path.read_text())


def _phase_runs(measurement: dict, phase: str) -> list[dict]:
    """cold: the JVM's first replay; warm: the later replays in the same JVM (JIT-compiled code)."""
    runs = measurement["runs"]
    return runs[:1] if phase == "cold" else runs[1:]


@dataclass
class Result:
    variant: Variant
    parallelism: int
    a: list[dict] = field(default_factory=list)
    b: list[dict] = field(default_factory=list)

    def _values(self, side: str, phase: str, key: str) -> list[float]:
        return [r[key] for m in getattr(self, side) for r in _phase_runs(m, phase) if r.get(key)]

    def has(self, phase: str) -> bool:
        return bool(self._values("a", phase, "seconds") and self._values("b", phase, "seconds"))

    def eps(self, side: str, events: int, phase: str = "warm") -> float:
        return events / statistics.median(self._values(side, phase, "seconds"))

    def ratio(self, events: int, phase: str = "warm") -> float:
        return self.eps("a", events, phase) / self.eps("b", events, phase)

    def steady_ratio(self, phase: str = "warm") -> float | None:
        a, b = self._values("a", phase, "steady_eps"), self._values("b", phase, "steady_eps")
        return statistics.median(a) / statistics.median(b) if a and b else None

    def net_ratio(self, phase: str = "warm") -> float | None:
        a, b = self._values("a", phase, "net_runtime_ms"), self._values("b", phase, "net_runtime_ms")
        return statistics.median(b) / statistics.median(a) if a and b else None

    def cpu(self, side: str, phase: str = "warm") -> float | None:
        values = self._values(side, phase, "cpu_seconds")
        return statistics.median(values) if values else None

    def mb(self, side: str) -> float | None:
        values = [m["vm_hwm_kb"] for m in getattr(self, side) if m["vm_hwm_kb"]]
        return statistics.median(values) / 1024 if values else None


def run_variants(jobs: Jobs, variants: list[tuple[Variant, int]], repeat: int, runs: int, python: str,
                 timeout: float, events: int, jfr_dir: Path | None = None) -> list[Result]:
    results = [Result(v, p) for v, p in variants]
    total = len(results) * repeat * 2
    done = 0
    for round_ in range(1, repeat + 1):
        for result in results:
            for side in ("a", "b"):
                done += 1
                label = f"{result.variant.name} p={result.variant.parallelism or result.parallelism}"
                log(f"[{done}/{total}] round {round_}/{repeat}: {label} ({side}), {runs} replay(s) in one JVM")
                jfr = jfr_dir / f"{label.replace(' ', '-')}-{side}-{round_}.jfr" if jfr_dir else None
                m = measure(job_spec(jobs, result.variant, side, result.parallelism, runs), python, timeout, jfr)
                getattr(result, side).append(m)
                for i, r in enumerate(m["runs"]):
                    net = f", job net {r['net_runtime_ms'] / 1000:.2f} s" if r.get("net_runtime_ms") else ""
                    if r.get("steady_eps"):
                        net += f", steady {r['steady_eps']:,.0f} events/s"
                    if result.variant.nice:
                        net += f", {r.get('reniced', 0)} thread(s) reniced"
                    log(f"    replay {i + 1}: {r['seconds']:.2f} s (submit {r['submit_seconds']:.2f} s{net}, "
                        f"JVM CPU {r['cpu_seconds']:.1f} s) = {events / r['seconds']:,.0f} events/s")
                if m["vm_hwm_kb"]:
                    log(f"    peak JVM {m['vm_hwm_kb'] / 1024:.0f} MB")
    return results


def fmt_eps(value: float) -> str:
    return f"{value:,.0f}"


def print_threads(results: list[Result], phase: str = "warm") -> None:
    """Where the CPU goes: seconds per replay and JVM thread group, a vs b (median over the replays)."""
    for r in results:
        shown = phase if r.has(phase) else "cold"
        sides = {}
        for side in ("a", "b"):
            runs = [run for m in getattr(r, side) for run in _phase_runs(m, shown) if run.get("threads")]
            names = {name for run in runs for name in run["threads"]}
            sides[side] = {n: statistics.median([run["threads"].get(n, 0.0) for run in runs]) for n in names}
        names = sorted(set(sides["a"]) | set(sides["b"]), key=lambda n: -max(sides["a"].get(n, 0), sides["b"].get(n, 0)))
        print(f"\nCPU s per replay by JVM thread ({r.variant.name}, p={r.variant.parallelism or r.parallelism}, {shown}):")
        print(f"  {'thread (first 15 chars, digits removed)':<42}{'a':>7}{'b':>7}{'a-b':>7}")
        for n in names:
            a, b = sides["a"].get(n, 0.0), sides["b"].get(n, 0.0)
            if max(a, b) >= 0.05:
                print(f"  {n:<42}{a:7.2f}{b:7.2f}{a - b:+7.2f}")
        print(f"  {'total':<42}{sum(sides['a'].values()):7.2f}{sum(sides['b'].values()):7.2f}")


def write_plans(results: list[Result], directory: Path | None) -> None:
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for r in results:
        for side in ("a", "b"):
            name = f"{r.variant.name}-p{r.variant.parallelism or r.parallelism}-{side}.plan.txt"
            (directory / name).write_text(getattr(r, side)[0]["plan"])


def print_table(title: str, results: list[Result], events: int, reference: Result | None) -> None:
    """Cold: each JVM's first replay (planning, class loading and JIT compilation included). Warm: the
    later replays in the same JVM, as a long-running TaskManager runs. The change column is warm."""
    header = ["variant", "p", "cold a ev/s", "cold b ev/s", "cold a/b", "warm a ev/s", "warm b ev/s", "warm a/b",
              "warm a/b net", "steady a/b", "CPU s a/b", "peak MB a/b", "plan", "change vs default (warm)"]
    rows = []
    for r in results:
        mb_a, mb_b = r.mb("a"), r.mb("b")
        warm = r.has("warm")
        phase = "warm" if warm else "cold"
        if reference is None or r is reference:
            change = "-"
        else:
            change = (f"a {100 * (r.eps('a', events, phase) / reference.eps('a', events, phase) - 1):+.0f}%, "
                      f"ratio {r.ratio(events, phase) - reference.ratio(events, phase):+.2f}")
        plan = "-"
        if reference is not None and r is not reference:
            plan = "=" if r.a[0]["plan_digest"] == reference.a[0]["plan_digest"] else "*"
        net = r.net_ratio(phase)
        cpu_a, cpu_b = r.cpu("a", phase), r.cpu("b", phase)
        rows.append([
            r.variant.name, str(r.variant.parallelism or r.parallelism),
            fmt_eps(r.eps("a", events, "cold")), fmt_eps(r.eps("b", events, "cold")), f"{r.ratio(events, 'cold'):.2f}",
            fmt_eps(r.eps("a", events)) if warm else "-", fmt_eps(r.eps("b", events)) if warm else "-",
            f"{r.ratio(events):.2f}" if warm else "-", f"{net:.2f}" if net else "?",
            f"{steady:.2f}" if (steady := r.steady_ratio(phase)) else "?",
            f"{cpu_a:.1f}/{cpu_b:.1f}" if cpu_a and cpu_b else "?",
            f"{mb_a or 0:.0f}/{mb_b or 0:.0f}", plan, change])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    left = (0, len(header) - 2, len(header) - 1)
    for row in rows:
        print("  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------

def ensure_events(path: Path, count: int, regenerate: bool) -> None:
    if path.exists() and not regenerate:
        log(f"events: {path} (cached; --regenerate to rewrite)")
        return
    from streammetrics.generate import generate
    from streammetrics.project import load_project

    source = load_project(REPO, [MODEL]).models[MODEL].source
    log(f"generating {count:,} events into {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    started = time.perf_counter()
    with tmp.open("w", encoding="utf-8") as handle:
        for line in generate(source, count, seed=7):
            handle.write(line + "\n")
    tmp.replace(path)
    log(f"generated in {time.perf_counter() - started:.1f} s")


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Throughput of the compiled session_analytics Flink job (a) vs a pass-through job (b) "
                    f"on the same 1M-event file; goal a/b >= {GOAL}. Progress on stderr, tables on stdout.")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the replay file (default 1,000,000)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help=f"where the events file is cached (default {DEFAULT_CACHE})")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the events file even if cached")
    parser.add_argument("--repeat", type=int, default=3, help="alternating a/b rounds for the main table (default 3)")
    parser.add_argument("--parallelism", default="1,2", help="comma-separated parallelisms for the main table (default 1,2)")
    parser.add_argument("--experiments", action="store_true",
                        help="also measure a/b for one-at-a-time setting/SQL variations (at parallelism 1)")
    parser.add_argument("--experiment-repeat", type=int, default=None,
                        help="rounds for the experiments table (default: --repeat)")
    parser.add_argument("--only", default=None, help="comma-separated experiment names to run (with --experiments)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra experiment 'custom': these overrides together (repeatable; implies --experiments)")
    parser.add_argument("--runs-per-jvm", type=int, default=3,
                        help="replays of the file in each worker JVM: the first is 'cold', the others 'warm' "
                             "(default 3; 1 = cold only)")
    parser.add_argument("--threads", action="store_true",
                        help="also print the CPU seconds per JVM thread (a vs b) for the main table")
    parser.add_argument("--steady-from", type=float, default=0.4, metavar="FRACTION",
                        help="the steady-state rate is measured from this fraction of the file to 95%% (default 0.4)")
    parser.add_argument("--jfr", type=Path, default=None, metavar="DIR",
                        help="record each main-table worker JVM with Java Flight Recorder into DIR (profiling; "
                             "slows the jobs a little)")
    parser.add_argument("--plans-dir", type=Path, default=None,
                        help="write each variant's optimized plan (a and b) there, outside the repository")
    parser.add_argument("--python", default=sys.executable, help="Python with PyFlink for the workers (default: this one)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement before giving up (default 900)")
    parser.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 <= args.steady_from < 0.95:
        parser.error(f"--steady-from must be at least 0 and below 0.95, got {args.steady_from}")
    if args._worker:
        return worker(*args._worker)

    events_path = args.cache_dir / f"events-{args.events // 1000}k.jsonl"
    if args.events == 1_000_000:
        events_path = args.cache_dir / "events-1m.jsonl"
    ensure_events(events_path, args.events, args.regenerate)
    lines = count_lines(events_path)
    log(f"{lines:,} lines, {events_path.stat().st_size / 1e6:.0f} MB")
    jobs = compile_model(events_path)
    jobs.events = {"events_file": str(events_path.resolve()), "events_size": events_path.stat().st_size,
                   "events_lines": lines, "steady_from": args.steady_from}
    log(f"compiled {MODEL}; settings: {jobs.settings}")

    started = time.perf_counter()
    default = Variant("default", "compiled settings, checkpointing removed")
    parallelisms = [int(p) for p in args.parallelism.split(",") if p]
    main_results = run_variants(jobs, [(default, p) for p in parallelisms], args.repeat, args.runs_per_jvm,
                                args.python, args.timeout, lines, args.jfr)
    print(f"{MODEL}: (a) compiled job vs (b) pass-through, {lines:,} events, median of {args.repeat} JVMs x "
          f"{args.runs_per_jvm} replays, goal a/b >= {GOAL}")
    print_table("Main", main_results, lines, None)
    if args.threads:
        print_threads(main_results)
    write_plans(main_results, args.plans_dir)

    if args.experiments or args.set:
        variants = [default] + EXPERIMENTS
        if args.only:
            wanted = set(args.only.split(","))
            variants = [default] + [v for v in EXPERIMENTS if v.name in wanted]
        if args.set:
            overrides = dict(item.split("=", 1) for item in args.set)
            variants.append(Variant("custom", ", ".join(args.set), overrides))
        repeat = args.experiment_repeat or args.repeat
        results = run_variants(jobs, [(v, 1) for v in variants], repeat, args.runs_per_jvm, args.python,
                               args.timeout, lines)
        print_table(f"Experiments (parallelism 1 unless the variant says otherwise; median of {repeat}; "
                    "plan: = same optimized plan as default, * changed)", results, lines, results[0])
        write_plans(results, args.plans_dir)
        print("\nVariants:")
        for r in results:
            print(f"  {r.variant.name}: {r.variant.what}")
        print("\nOperators in the optimized plan (a):")
        for r in results:
            print(f"  {r.variant.name}: {', '.join(r.a[0]['operators'])}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
