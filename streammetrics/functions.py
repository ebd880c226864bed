"""streammetrics' Flink functions: Java sources in functions/src, built into a jar on first use.

- SM_JSON_VALUES(json, '$.a', '$.b', ...) returns ARRAY<STRING>, element i being what
  JSON_VALUE(json, path i) returns; the JSON string is parsed once for all the paths a model reads
  (the compiler rewrites JSON_VALUE calls into it). Flink's JSON_VALUE parses the whole document
  again for every call, which cost most of the compiled job's time (bench/README.md).
- SM_TOP_N(value, n) is an aggregate function: the n most frequent non-NULL values, most frequent
  first, ties in code-point order. It runs inside the model's window aggregation, instead of a
  separate count -> window Top-N -> list -> window join pipeline.

The jar is compiled by `javac` against the Flink jars of the installed PyFlink (the same Flink
version the stack's cluster runs: the stack's FLINK_HOME is the PyFlink wheel) and cached under
~/.cache/streammetrics/functions/ by the SHA-256 of the sources and the Flink version, so a change to
a source file builds a new jar and never reuses a stale one. Compiled scripts refer to it through
the placeholder ${streammetrics:functions-jar}, which run and deploy replace with the local path, or
to the target's `flink.functions_jar` (e.g. a jar uploaded where a remote SQL Gateway can read it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from .errors import StreamMetricsError

SOURCES = Path(__file__).parent / "functions" / "src"
JAR_PLACEHOLDER = "${streammetrics:functions-jar}"
JSON_VALUES = "SM_JSON_VALUES"
TOP_N = "SM_TOP_N"
CLASSES = {JSON_VALUES: "dev.streammetrics.flink.JsonValues", TOP_N: "dev.streammetrics.flink.TopN"}
# The accumulator layout of SM_TOP_N as it is stored in checkpoints and savepoints. Part of a model's
# state fingerprint: change it whenever TopN.Counts changes, so that deploy refuses an upgrade whose
# savepoint the new job could not read.
TOP_N_STATE = "SM_TOP_N: ROW<counts MAP<STRING, BIGINT>, n INT> v1"
JAVA_RELEASE = "11"
CLASSPATH_JARS = ("flink-table-api-java-uber", "flink-dist")


def cache_dir() -> Path:
    base = os.environ.get("STREAMMETRICS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "streammetrics")
    return Path(base) / "functions"


def source_files() -> list[Path]:
    return sorted(SOURCES.rglob("*.java"))


def flink_lib() -> Path:
    try:
        import pyflink
    except ImportError:
        raise StreamMetricsError(
            "building streammetrics' Flink functions needs PyFlink's Flink jars; install it with "
            "pip install -e '.[flink]', or set the target's flink.functions_jar to a built jar"
        ) from None
    return Path(pyflink.__file__).parent / "lib"


def _classpath(lib: Path) -> list[Path]:
    jars = []
    for prefix in CLASSPATH_JARS:
        found = sorted(lib.glob(f"{prefix}-*.jar"))
        if not found:
            raise StreamMetricsError(f"{lib}: no {prefix}-*.jar; is PyFlink installed completely?")
        jars.append(found[0])
    return jars


def digest(lib: Path | None = None) -> str:
    """SHA-256 over the sources, the Flink jars they compile against (by name) and the Java release."""
    h = hashlib.sha256(JAVA_RELEASE.encode())
    for jar in _classpath(lib or flink_lib()):
        h.update(jar.name.encode())
    for path in source_files():
        h.update(path.relative_to(SOURCES).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _javac() -> str:
    home = os.environ.get("JAVA_HOME")
    candidates = [Path(home) / "bin" / "javac"] if home else []
    found = shutil.which("javac")
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise StreamMetricsError(
        "javac not found: streammetrics' Flink functions are built from source with a JDK (17 or later); "
        "install one (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
    )


def jar_path(on_build: Callable[[], None] | None = None) -> Path:
    """The functions jar for the installed Flink, built now if it is not cached yet (a few seconds);
    `on_build` is called first when it has to be built (to say so)."""
    lib = flink_lib()
    target = cache_dir() / f"streammetrics-functions-{digest(lib)[:16]}.jar"
    if target.is_file():
        return target
    if on_build is not None:
        on_build()
    target.parent.mkdir(parents=True, exist_ok=True)
    javac = _javac()
    with tempfile.TemporaryDirectory(prefix="smx-functions-", dir=target.parent) as tmp:
        classes = Path(tmp) / "classes"
        classes.mkdir()
        command = [javac, "--release", JAVA_RELEASE, "-nowarn", "-encoding", "UTF-8", "-d", str(classes),
                   "-cp", os.pathsep.join(str(j) for j in _classpath(lib)), *map(str, source_files())]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise StreamMetricsError(f"building the Flink functions failed ({javac}):\n{done.stderr.strip()}")
        jar = Path(tmp) / target.name
        _zip(classes, jar)
        jar.replace(target)  # atomic: a concurrent build never leaves half a jar
    return target


def _zip(classes: Path, jar: Path) -> None:
    """A jar is a zip with a manifest; zipfile keeps this independent of the JDK's `jar` tool."""
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: streammetrics\r\n\r\n")
        for path in sorted(classes.rglob("*.class")):
            out.write(path, path.relative_to(classes).as_posix())


def resolve(text: str) -> str:
    """Replace the functions-jar placeholder with the local jar (built when needed)."""
    if JAR_PLACEHOLDER not in text:
        return text
    return text.replace(JAR_PLACEHOLDER, str(jar_path()))
