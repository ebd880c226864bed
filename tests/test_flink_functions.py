"""streammetrics' Java functions (streammetrics/functions/src) on a real Flink (PyFlink, in-process).

SM_JSON_VALUES must return exactly what Flink's own JSON_VALUE returns, path by path, including on
documents that are malformed, nested, duplicated or odd in their numbers: it is compared with
JSON_VALUE itself in the same query. SM_TOP_N is compared with a plain-Python count and sort.
"""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pyflink", reason="PyFlink (extra 'flink') runs the functions")

from streammetrics import functions  # noqa: E402
from streammetrics.embedded import table_environment  # noqa: E402
from streammetrics.errors import StreamMetricsError  # noqa: E402

DOCUMENTS = [
    '{"a":1,"b":"x"}', '{"a":1.50,"b":true}', '{"a":1e3}', '{"a":-0}', '{"a":12345678901234567890}',
    '{"a":null}', '{"a":{"b":1}}', '{"a":[1,2]}', '{"a":"x\\u00e9"}', "not json", "", "   ", "[1,2]", "5", '"s"',
    '{"a":1,"a":2}', '{"a":1} trailing', '{"a":1,', '{"a":1, "z":"\\q"}', '{"a":01}', '{"c":{"d":"deep"},"a":2}',
    '{"c":{"d":1},"c":3}', '{"a":1.0E-10}', '{"a":"","b":false}', '{"b":{"x":[{"y":1}]}, "a":"after"}',
    '{"a":NaN}', "{'a':1}", '{"a":1}{"a":2}', '{"a":123.456e2}', '{"a":"\\ud83d\\ude00"}', None,
    ' {"a" : "x" , "b":true}', '{"a":"x","b":trueX}', '{"a":-0,"b":1}', '{"a":0123}', '{"a":-5,"b":null}',
    '{"a":123456789012345678}', '{"a":1234567890123456789}', '{"a":"tab\\there"}', '{"a":"ctl\u0001"}',
    '{"a":"q\\"x"}', '{"a":"x"', '{"a":"x",}', '{"a" "x"}', "{}", '{"b":false,"a":"y","a":null}', '{"a":"é"}',
    '{"c":5,"a":1}', '{"a":1}garbage', '{"a":1 , }', '{"a":tru}', '{"a":1]', '{"a":nul}', '\ufeff{"a":1}',
    '{"a":"x"}   ', '{"a":-}', '{"a":-12}', '{"a":0}', '{"a":1,"b":{"c":2}}', '{"a":"\x7f"}', '{"c":{"d":"1","d":2}}',
    '{"a":"1","a":{"x":1}}', '{"duration_ms": 1200, "turn_count": "7", "agent_id": "planner", "intent": "forecast"}',
]
PATHS = ["$.a", "$.b", "$.c.d"]


def _literal(text: str | None) -> str:
    return "CAST(NULL AS STRING)" if text is None else "'" + text.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def env():
    jar = functions.jar_path()
    environment = table_environment({"parallelism.default": "1"})
    environment.execute_sql(f"ADD JAR '{jar}'")
    for name, class_name in functions.CLASSES.items():
        environment.execute_sql(f"CREATE TEMPORARY SYSTEM FUNCTION {name} AS '{class_name}' LANGUAGE JAVA")
    return environment


def test_json_values_equal_json_value_path_by_path(env) -> None:
    paths = ", ".join(f"'{p}'" for p in PATHS)
    rows = ", ".join(f"({i}, {_literal(d)})" for i, d in enumerate(DOCUMENTS))
    builtin = ", ".join(f"JSON_VALUE(s, '{p}')" for p in PATHS)
    ours = ", ".join(f"SM_JSON_VALUES(s, {paths})[{i + 1}]" for i in range(len(PATHS)))
    query = f"SELECT i, {builtin}, {ours} FROM (VALUES {rows}) AS t(i, s)"
    with env.execute_sql(query).collect() as results:
        got = {row[0]: (list(row[1:1 + len(PATHS)]), list(row[1 + len(PATHS):])) for row in results}
    assert len(got) == len(DOCUMENTS)
    differences = {DOCUMENTS[i]: pair for i, pair in got.items() if pair[0] != pair[1]}
    assert differences == {}
    # the comparison is not vacuous: documents with values, and documents where every path is NULL
    assert got[DOCUMENTS.index('{"c":{"d":"deep"},"a":2}')][1] == ["2", None, "deep"]
    assert got[DOCUMENTS.index('{"a":1.50,"b":true}')][1] == ["1.50", "true", None]
    assert got[DOCUMENTS.index("not json")][1] == [None, None, None]


def test_json_values_reject_paths_it_cannot_serve(env) -> None:
    with pytest.raises(Exception, match=r"supports paths like"):
        list(env.execute_sql("SELECT SM_JSON_VALUES(s, '$.a[0]')[1] FROM (VALUES ('{}')) AS t(s)").collect())


VALUES = ["b", "a", "b", "c", None, "a", "é", "z", "z", "😀", "\uffff", "😀", "\uffff", None, "d", "b"]


def _expected_top(values: list[str | None], n: int) -> list[str]:
    counts = collections.Counter(v for v in values if v is not None)
    ranked = sorted(counts, key=lambda v: (-counts[v], v.encode("utf-8")))  # code-point order, as UTF-8 bytes
    return ranked[:n]


@pytest.mark.parametrize("n", [1, 3, 5, 20])
def test_top_n_counts_and_orders_like_plain_python(n: int) -> None:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    batch = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    batch.execute_sql(f"ADD JAR '{functions.jar_path()}'")
    batch.execute_sql(f"CREATE TEMPORARY SYSTEM FUNCTION SM_TOP_N AS '{functions.CLASSES['SM_TOP_N']}' LANGUAGE JAVA")
    groups = {"g1": VALUES, "g2": ["x", "y", "y"], "g3": [None, None]}
    rows = ", ".join(f"('{g}', {_literal(v)})" for g, values in groups.items() for v in values)
    query = f"SELECT g, SM_TOP_N(v, {n}) FROM (VALUES {rows}) AS t(g, v) GROUP BY g"
    with batch.execute_sql(query).collect() as results:
        got = {row[0]: list(row[1]) for row in results}
    assert got == {g: _expected_top(values, n) for g, values in groups.items()}
    assert got["g3"] == []


def test_jar_is_cached_and_rebuilt_when_a_source_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STREAMMETRICS_CACHE", str(tmp_path / "cache"))
    first = functions.jar_path()
    assert first.is_file() and first.parent == tmp_path / "cache" / "functions"
    assert functions.jar_path() == first  # cached: not rebuilt
    sources = tmp_path / "src"
    shutil.copytree(functions.SOURCES, sources)
    java = next(sources.rglob("TopN.java"))
    java.write_text(java.read_text() + "\n// changed\n")
    monkeypatch.setattr(functions, "SOURCES", sources)
    second = functions.jar_path()
    assert second != first and second.is_file()


def test_a_broken_source_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STREAMMETRICS_CACHE", str(tmp_path / "cache"))
    sources = tmp_path / "src"
    shutil.copytree(functions.SOURCES, sources)
    java = next(sources.rglob("TopN.java"))
    java.write_text(java.read_text().replace("return top;", "return top"))
    monkeypatch.setattr(functions, "SOURCES", sources)
    with pytest.raises(StreamMetricsError, match=r"(?s)building the Flink functions failed.*TopN.java:\d+: error"):
        functions.jar_path()
    assert not list((tmp_path / "cache" / "functions").glob("*.jar"))  # nothing half-built is left


def test_functions_command_prints_and_copies_the_jar(tmp_path: Path) -> None:
    from conftest import ROOT, run_cli

    result = run_cli(ROOT, "functions", "--copy-to", str(tmp_path))
    assert result.exit_code == 0, result.output
    copied = Path(result.stdout.strip().splitlines()[-1])
    assert copied.parent == tmp_path and copied.name == functions.jar_path().name
    assert copied.read_bytes() == functions.jar_path().read_bytes()


def test_a_target_may_name_where_the_cluster_reads_the_jar() -> None:
    from conftest import ROOT
    from streammetrics.flink import compile_flink
    from streammetrics.profiles import load_target
    from streammetrics.project import load_project

    _, target = load_target(ROOT / "profiles.yml", "stack", ROOT)
    remote = "s3://flink-jars/streammetrics-functions-1234.jar"
    target = target.model_copy(update={"flink": target.flink.model_copy(update={"functions_jar": remote})})
    script = compile_flink(load_project(ROOT, ["session_analytics"]).models["session_analytics"], target)
    assert f"ADD JAR '{remote}';" in script and functions.JAR_PLACEHOLDER not in script
    assert functions.resolve(script) == script  # nothing local to substitute
