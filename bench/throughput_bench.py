#!/usr/bin/env python3
"""Throughput benchmark: the compiled session_analytics Flink job vs a pass-through job, same source.

Goal (from the issue): on a replay of 1,000,000 generated events, (a) the compiled session_analytics
job reaches at least 0.8 of the events/s of (b) a pass-through job on the same source (parse the
JSON, apply the model's filter, write every source column to a blackhole sink). Also: peak memory
(VmHWM) of the Flink JVM.

    ~/.cache/smx/venv/bin/python bench/throughput_bench.py                    # a vs b, p=1 and p=2
    ~/.cache/smx/venv/bin/python bench/throughput_bench.py --experiments      # + one-at-a-time variations
    ~/.cache/smx/venv/bin/python bench/throughput_bench.py --experiments --repeat 1 --only default,no-split

How it measures:
- The events file (1,000,000 lines from streammetrics.generate, seed 7) is generated once into
  ~/.cache/streammetrics/bench/events-<n>.jsonl (--regenerate to rewrite it).
- (a) is the compiled INSERT unchanged except connectors (FlinkScript.with_connectors: filesystem
  source with the Kafka source's JSON options, blackhole sink); (b) is the same source DDL and
  `INSERT INTO blackhole SELECT * FROM <source> WHERE <model filter> AND tenant_id IS NOT NULL AND
  `timestamp` IS NOT NULL`. Both run with the compiled script's SET options minus checkpointing, plus
  `parallelism.default` (--parallelism, default 1,2) and the variant's overrides.
- Every measurement is a fresh Python subprocess (so a fresh JVM / mini-cluster); subprocesses
  alternate a, b, a, b, ... for --repeat rounds; the medians are reported. The time is from
  `execute_sql(insert)` (submit, planning included) to `.wait()` returning; JVM start and DDL are
  not timed. events/s = lines in the file / seconds (malformed lines count, as they are read).
- Peak memory: VmHWM (peak resident set) of the java process that PyFlink launched (a child of the
  worker's Python process), read from /proc after the job finished.
- The worker also records the optimized plan (EXPLAIN, before the timed run, untimed) so that the
  table says whether a setting changed the plan at all ("plan" column: = same as default, * changed).

Nothing is written inside the repository (the model is compiled into a temporary directory).
"""

from __future__ import annotations

import argparse
import difflib
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
    plan = env.explain_sql(insert)
    optimized = plan.split("== Optimized Execution Plan ==")[-1]
    optimized = re.sub(r"\b(\w+)\$\d+\b", r"\1", optimized)  # field ids vary between runs
    operators = sorted(set(re.findall(r"^\s*[+:-]*\s*(\w+)\(", optimized, re.M)))
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
    javas = _java_children(os.getpid())
    hwm = max((_vm_hwm_kb(p) or 0 for p in javas), default=None) if javas else None
    Path(result_path).write_text(json.dumps({
        "seconds": finished - started,
        "submit_seconds": submitted - started,
        "net_runtime_ms": net_ms,
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
    ddl: list[str]                    # source + sink DDL of the compiled script, connectors swapped
    source_ddl: str
    source_table: str
    insert: str                       # compiled INSERT (sink renamed to the blackhole table)
    passthrough: str
    fewer_json: str
    fewer_json_diff: str
    baseline_ddl: list[str]
    baseline: str


def compile_model(events: Path) -> Jobs:
    from sqlglot import exp

    from streammetrics.context import Context
    from streammetrics.dialects import FLINK
    from streammetrics.flinkscript import FlinkScript
    from streammetrics.runner import file_source_options

    with tempfile.TemporaryDirectory(prefix="smx-throughput-") as tmp:
        compiled = Context(REPO, output_dir=Path(tmp)).compile([MODEL]).compiled[0]
    script = FlinkScript.parse(compiled.flink_sql)
    local = script.with_connectors(file_source_options(script, events), {"connector": "blackhole"})
    settings = {k: v for k, v in local.settings.items() if k not in DROPPED_SETTINGS}
    model = compiled.model
    source_table = model.source.name
    ddl, source_ddl = [], None
    for statement in local.statements:
        if isinstance(statement, exp.Insert):
            continue
        text = statement.sql(FLINK)
        ddl.append(text)
        table = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        if isinstance(statement, exp.Create) and table.name == source_table:
            source_ddl = text
    (insert_ast,) = local.inserts()
    insert = insert_ast.sql(FLINK)
    not_null = " AND ".join(f"`{c.name}` IS NOT NULL" for c in model.source.columns if not c.nullable)
    event_time = model.source.event_time
    if f"`{event_time}` IS NOT NULL" not in not_null:
        not_null += f" AND `{event_time}` IS NOT NULL"
    where = f"({model.spec.filter}) AND {not_null}" if model.spec.filter else not_null
    passthrough = f"INSERT INTO {PASS_SINK} SELECT * FROM {source_table} WHERE {where}"
    fewer_json, diff = _fewer_json_values(insert_ast, FLINK)
    baseline_ddl, baseline = _baseline(source_table, where)
    assert source_ddl is not None
    return Jobs(settings, ddl, source_ddl, source_table, insert, passthrough, fewer_json, diff, baseline_ddl, baseline)


def _fewer_json_values(insert_ast, dialect) -> tuple[str, str]:
    """Experiment (benchmark only): extract every JSON_VALUE(col, path) once, in the `events` CTE, and
    reference the extracted column everywhere else. Returns the SQL and the unified diff applied."""
    from sqlglot import exp

    before = insert_ast.sql(dialect, pretty=True)
    tree = insert_ast.copy()
    ctes = {cte.alias: cte for cte in tree.find_all(exp.CTE)}
    events = ctes["events"].this
    names: dict[str, str] = {}
    for node in list(tree.find_all(exp.JSONExtractScalar)):
        key = node.sql(dialect)
        if key not in names:
            path = node.expression.sql(dialect).strip("'").lstrip("$.")
            names[key] = "j_" + re.sub(r"\W+", "_", f"{node.this.name}_{path}")
    for node in list(tree.find_all(exp.JSONExtractScalar)):
        node.replace(exp.column(names[node.sql(dialect)]))
    for key, name in names.items():
        events.select(exp.alias_(exp.maybe_parse(key, dialect=dialect), name), copy=False)
    after = tree.sql(dialect, pretty=True)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        "compiled INSERT", "fewer JSON_VALUE", n=1))
    return tree.sql(dialect), diff


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
    query: str = "compiled"          # compiled | fewer_json | baseline
    parallelism: int | None = None   # None: the run's --parallelism


MINI_BATCH = {"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "1 s",
              "table.exec.mini-batch.size": "5000"}

EXPERIMENTS = [
    Variant("no-split", "table.optimizer.distinct-agg.split.enabled=false (compiled: true)",
            {"table.optimizer.distinct-agg.split.enabled": "false"}),
    Variant("one-phase", "table.optimizer.agg-phase-strategy=ONE_PHASE",
            {"table.optimizer.agg-phase-strategy": "ONE_PHASE"}),
    Variant("two-phase", "table.optimizer.agg-phase-strategy=TWO_PHASE",
            {"table.optimizer.agg-phase-strategy": "TWO_PHASE"}),
    Variant("mini-batch", "table.exec.mini-batch.enabled=true, allow-latency=1 s, size=5000", dict(MINI_BATCH)),
    Variant("object-reuse", "pipeline.object-reuse=true", {"pipeline.object-reuse": "true"}),
    Variant("rocksdb", "state.backend.type=rocksdb (default: hashmap)", {"state.backend.type": "rocksdb"}),
    Variant("win-buffer-1m", "table.exec.window-agg.buffer-size-limit=1000000 (default 100000)",
            {"table.exec.window-agg.buffer-size-limit": "1000000"}),
    Variant("wm-interval-0", "pipeline.auto-watermark-interval=0 ms (runner.DETERMINISTIC)",
            {"pipeline.auto-watermark-interval": "0 ms"}),
    Variant("no-chaining", "pipeline.operator-chaining.enabled=false (operators in their own threads)",
            {"pipeline.operator-chaining.enabled": "false"}),
    Variant("p2", "parallelism.default=2", parallelism=2),
    Variant("fewer-json", "JSON_VALUE extracted once in the events CTE (SQL edit, see diff)", query="fewer_json"),
    Variant("no-split+fewer-json", "no-split and fewer-json together",
            {"table.optimizer.distinct-agg.split.enabled": "false"}, query="fewer_json"),
    Variant("no-split+one-phase", "no-split and agg-phase-strategy=ONE_PHASE",
            {"table.optimizer.distinct-agg.split.enabled": "false", "table.optimizer.agg-phase-strategy": "ONE_PHASE"}),
    Variant("no-split+no-chaining", "no-split and pipeline.operator-chaining.enabled=false",
            {"table.optimizer.distinct-agg.split.enabled": "false", "pipeline.operator-chaining.enabled": "false"}),
    Variant("no-split+fewer-json+reuse", "no-split, fewer-json and pipeline.object-reuse=true",
            {"table.optimizer.distinct-agg.split.enabled": "false", "pipeline.object-reuse": "true"},
            query="fewer_json"),
    Variant("baseline", "hand-written window query: COUNT(DISTINCT), AVG(JSON_VALUE), no top_n", query="baseline"),
]


def job_spec(jobs: Jobs, variant: Variant, side: str, parallelism: int) -> dict:
    settings = dict(jobs.settings)
    settings["parallelism.default"] = str(variant.parallelism or parallelism)
    settings.update(variant.overrides)
    common = {"settings": settings, "source_table": jobs.source_table}
    if side == "b":
        return {**common, "ddl": [jobs.source_ddl], "insert": jobs.passthrough, "passthrough": True}
    if variant.query == "baseline":
        return {**common, "ddl": [jobs.source_ddl, *jobs.baseline_ddl], "insert": jobs.baseline}
    insert = jobs.fewer_json if variant.query == "fewer_json" else jobs.insert
    return {**common, "ddl": jobs.ddl, "insert": insert}


def measure(spec: dict, python: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="smx-throughput-run-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run([python, str(Path(__file__).resolve()), "--_worker", str(spec_path), str(result_path)],
                              cwd=tmp, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"worker failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        return json.loads(result_path.read_text())


@dataclass
class Result:
    variant: Variant
    parallelism: int
    a: list[dict] = field(default_factory=list)
    b: list[dict] = field(default_factory=list)

    def eps(self, side: str, events: int) -> float:
        return events / statistics.median(r["seconds"] for r in getattr(self, side))

    def ratio(self, events: int) -> float:
        return self.eps("a", events) / self.eps("b", events)

    def net_ratio(self) -> float | None:
        a = [r["net_runtime_ms"] for r in self.a if r.get("net_runtime_ms")]
        b = [r["net_runtime_ms"] for r in self.b if r.get("net_runtime_ms")]
        return statistics.median(b) / statistics.median(a) if a and b else None

    def mb(self, side: str) -> float | None:
        values = [r["vm_hwm_kb"] for r in getattr(self, side) if r["vm_hwm_kb"]]
        return statistics.median(values) / 1024 if values else None


def run_variants(jobs: Jobs, variants: list[tuple[Variant, int]], repeat: int, python: str,
                 timeout: float, events: int) -> list[Result]:
    results = [Result(v, p) for v, p in variants]
    total = len(results) * repeat * 2
    done = 0
    for round_ in range(1, repeat + 1):
        for result in results:
            for side in ("a", "b"):
                done += 1
                label = f"{result.variant.name} p={result.variant.parallelism or result.parallelism}"
                log(f"[{done}/{total}] round {round_}/{repeat}: {label} ({side})")
                r = measure(job_spec(jobs, result.variant, side, result.parallelism), python, timeout)
                getattr(result, side).append(r)
                mb = f", peak JVM {r['vm_hwm_kb'] / 1024:.0f} MB" if r["vm_hwm_kb"] else ""
                net = f", job net {r['net_runtime_ms'] / 1000:.2f} s" if r.get("net_runtime_ms") else ""
                log(f"    {r['seconds']:.2f} s (submit {r['submit_seconds']:.2f} s{net}) = "
                    f"{events / r['seconds']:,.0f} events/s{mb}")
    return results


def fmt_eps(value: float) -> str:
    return f"{value:,.0f}"


def write_plans(results: list[Result], directory: Path | None) -> None:
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for r in results:
        for side in ("a", "b"):
            name = f"{r.variant.name}-p{r.variant.parallelism or r.parallelism}-{side}.plan.txt"
            (directory / name).write_text(getattr(r, side)[0]["plan"])


def print_table(title: str, results: list[Result], events: int, reference: Result | None) -> None:
    header = ["variant", "p", "events/s (a)", "events/s (b)", "a/b", "a/b net", "peak JVM MB a/b", "plan",
              "change vs default"]
    rows = []
    for r in results:
        mb_a, mb_b = r.mb("a"), r.mb("b")
        if reference is None or r is reference:
            change = "-"
        else:
            change = (f"a {100 * (r.eps('a', events) / reference.eps('a', events) - 1):+.0f}%, "
                      f"ratio {r.ratio(events) - reference.ratio(events):+.2f}")
        plan = "-"
        if reference is not None and r is not reference:
            plan = "=" if r.a[0]["plan_digest"] == reference.a[0]["plan_digest"] else "*"
        rows.append([r.variant.name, str(r.variant.parallelism or r.parallelism), fmt_eps(r.eps("a", events)),
                     fmt_eps(r.eps("b", events)), f"{r.ratio(events):.2f}",
                     f"{r.net_ratio():.2f}" if r.net_ratio() else "?",
                     f"{mb_a or 0:.0f}/{mb_b or 0:.0f}", plan, change])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) if i in (0, 7, 8) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
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
    parser.add_argument("--show-diff", action="store_true", help="print the fewer-JSON_VALUE SQL diff (also with --experiments)")
    parser.add_argument("--plans-dir", type=Path, default=None,
                        help="write each variant's optimized plan (a and b) there, outside the repository")
    parser.add_argument("--python", default=sys.executable, help="Python with PyFlink for the workers (default: this one)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement before giving up (default 900)")
    parser.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        return worker(*args._worker)

    events_path = args.cache_dir / f"events-{args.events // 1000}k.jsonl"
    if args.events == 1_000_000:
        events_path = args.cache_dir / "events-1m.jsonl"
    ensure_events(events_path, args.events, args.regenerate)
    lines = count_lines(events_path)
    log(f"{lines:,} lines, {events_path.stat().st_size / 1e6:.0f} MB")
    jobs = compile_model(events_path)
    log(f"compiled {MODEL}; settings: {jobs.settings}")

    started = time.perf_counter()
    default = Variant("default", "compiled settings, checkpointing removed")
    parallelisms = [int(p) for p in args.parallelism.split(",") if p]
    main_results = run_variants(jobs, [(default, p) for p in parallelisms], args.repeat, args.python, args.timeout, lines)
    print(f"{MODEL}: (a) compiled job vs (b) pass-through, {lines:,} events, median of {args.repeat}, "
          f"goal a/b >= {GOAL}")
    print_table("Main", main_results, lines, None)
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
        results = run_variants(jobs, [(v, 1) for v in variants], repeat, args.python, args.timeout, lines)
        print_table(f"Experiments (parallelism 1 unless the variant says otherwise; median of {repeat}; "
                    "plan: = same optimized plan as default, * changed)", results, lines, results[0])
        write_plans(results, args.plans_dir)
        print("\nVariants:")
        for r in results:
            print(f"  {r.variant.name}: {r.variant.what}")
        print("\nOperators in the optimized plan (a):")
        for r in results:
            print(f"  {r.variant.name}: {', '.join(r.a[0]['operators'])}")
    if args.experiments or args.show_diff:
        print("\nfewer-json: the diff applied to the compiled INSERT (benchmark only)")
        print(jobs.fewer_json_diff)
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
