"""Tests for the Flink SQL sqlglot dialect (streammetrics.dialects.flink)."""

from __future__ import annotations

import importlib.util
import re
import unittest

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

from streammetrics.dialects.flink import (
    AddJar,
    CreateFunction,
    Descriptor,
    Explain,
    Flink,
    MetadataColumnConstraint,
    StatementSet,
    StopJob,
    TableArgument,
    WindowTVF,
)

FULL_SCRIPT = """
SET 'pipeline.name' = 'session_analytics';
SET 'table.exec.state.ttl' = '1 d';

CREATE TEMPORARY TABLE state_changes (
  entity_id STRING NOT NULL,
  entity_type STRING,
  tenant_id STRING COMMENT 'owning tenant',
  to_state STRING,
  metadata STRING,
  `timestamp` TIMESTAMP(3),
  proc_time AS PROCTIME(),
  WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '30' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'matih.ai.state-changes',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'format' = 'json'
);

CREATE CATALOG polaris WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'uri' = 'jdbc:postgresql://127.0.0.1:5432/iceberg',
  'warehouse' = 'file:///tmp/wh'
);

CREATE DATABASE IF NOT EXISTS polaris.matih_analytics;

CREATE TABLE IF NOT EXISTS polaris.matih_analytics.session_analytics (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  tenant_id STRING,
  total BIGINT,
  completion_rate DOUBLE,
  top_states ARRAY<STRING>,
  avg_duration_ms DOUBLE
) PARTITIONED BY (tenant_id) WITH (
  'format-version' = '2'
);

INSERT INTO polaris.matih_analytics.session_analytics
WITH windowed AS (
  SELECT window_start, window_end, tenant_id, entity_id, to_state,
    TRY_CAST(JSON_VALUE(metadata, '$.duration_ms') AS DOUBLE) AS duration_ms
  FROM TABLE(TUMBLE(TABLE state_changes, DESCRIPTOR(`timestamp`), INTERVAL '15' MINUTE))
  WHERE entity_type = 'session_phase'
), state_counts AS (
  SELECT window_start, window_end, tenant_id, to_state, COUNT(*) AS c
  FROM windowed
  GROUP BY window_start, window_end, tenant_id, to_state
), ranked AS (
  SELECT window_start, window_end, tenant_id, to_state,
    ROW_NUMBER() OVER (PARTITION BY window_start, window_end, tenant_id ORDER BY c DESC, to_state ASC) AS rn
  FROM state_counts
), top_states AS (
  SELECT window_start, window_end, tenant_id,
    ARRAY_REMOVE(ARRAY[MAX(to_state) FILTER (WHERE rn = 1), MAX(to_state) FILTER (WHERE rn = 2)], CAST(NULL AS STRING)) AS top_states
  FROM ranked
  WHERE rn <= 2
  GROUP BY window_start, window_end, tenant_id
), totals AS (
  SELECT window_start, window_end, tenant_id,
    COUNT(DISTINCT entity_id) AS total,
    CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / GREATEST(COUNT(DISTINCT entity_id), 1) AS completion_rate,
    AVG(duration_ms) AS avg_duration_ms
  FROM windowed
  GROUP BY window_start, window_end, tenant_id
)
SELECT t.window_start, t.window_end, t.tenant_id, t.total, t.completion_rate, s.top_states, t.avg_duration_ms
FROM totals AS t
LEFT JOIN top_states AS s
  ON t.window_start = s.window_start AND t.window_end = s.window_end AND t.tenant_id = s.tenant_id;
"""


def _no_command(tree: exp.Expr | None) -> None:
    assert tree is not None
    commands = list(tree.find_all(exp.Command))
    assert not commands, f"opaque exp.Command in tree: {commands}"


class TestFlink(unittest.TestCase):
    dialect = "flink"

    def parse(self, sql: str) -> exp.Expr:
        tree = sqlglot.parse_one(sql, read=self.dialect)
        _no_command(tree)
        return tree

    def validate_identity(self, sql: str, write_sql: str | None = None, pretty: bool = False) -> exp.Expr:
        tree = self.parse(sql)
        generated = tree.sql(dialect=self.dialect, pretty=pretty)
        self.assertEqual(write_sql or sql, generated)
        # round trip, also through pretty mode
        self.assertEqual(self.parse(generated), tree)
        self.assertEqual(self.parse(tree.sql(dialect=self.dialect, pretty=True)), tree)
        return tree

    def validate_all(self, sql: str, read: dict | None = None, write: dict | None = None) -> None:
        tree = self.parse(sql)
        for dialect, source in (read or {}).items():
            self.assertEqual(sqlglot.transpile(source, read=dialect, write=self.dialect)[0], sql)
        for dialect, target in (write or {}).items():
            generated = tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
            self.assertEqual(generated, target)

    def assert_unsupported(self, tree: exp.Expr, dialect: str = "flink") -> None:
        with self.assertRaises(UnsupportedError):
            tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)

    def test_plugin_registration(self):
        from sqlglot.dialects.dialect import Dialect

        self.assertIs(type(Dialect.get_or_raise("flink")), Flink)
        self.assertEqual(sqlglot.transpile("SELECT 1", read="flink", write="flink"), ["SELECT 1"])

    def test_identifiers(self):
        self.assertEqual(exp.column("timestamp").sql("flink"), "`timestamp`")
        for word in ("user", "value", "offset", "time", "date", "year", "window", "table",
                     "system_time", "current_date", "minute", "second", "day", "hour", "month"):
            self.assertEqual(exp.column(word).sql("flink"), f"`{word}`")
        self.assertEqual(exp.column("tenant_id").sql("flink"), "tenant_id")
        self.assertEqual(exp.column("metadata").sql("flink"), "metadata")
        self.assertEqual(exp.column("my-col").sql("flink"), "`my-col`")
        self.validate_identity("SELECT TenantId, `value` FROM MyTable")
        self.validate_identity("SELECT `a``b` FROM t")
        self.validate_identity("SELECT 'it''s'")
        self.assertEqual(self.parse("SELECT TenantId FROM t").sql("flink"), "SELECT TenantId FROM t")

    def test_set_reset(self):
        tree = self.validate_identity("SET 'pipeline.name' = 'session_analytics'")
        self.assertIsInstance(tree, exp.Set)
        self.validate_identity("SET")
        self.assertIsInstance(self.validate_identity("RESET 'key'"), exp.Set)
        self.validate_identity("RESET")

    def test_catalog_database_use(self):
        sql = (
            "CREATE CATALOG polaris WITH ('type' = 'iceberg', 'catalog-impl' = "
            "'org.apache.iceberg.jdbc.JdbcCatalog', 'uri' = "
            "'jdbc:postgresql://127.0.0.1:5432/iceberg', 'warehouse' = 'file:///tmp/wh')"
        )
        tree = self.validate_identity(sql)
        self.assertEqual(tree.kind, "CATALOG")
        self.validate_identity("CREATE CATALOG IF NOT EXISTS c WITH ('type' = 'generic_in_memory')")
        self.validate_identity("CREATE DATABASE IF NOT EXISTS polaris.matih_analytics")
        self.validate_identity("USE CATALOG x")
        self.validate_identity("USE x.y")

    def test_create_table(self):
        self.validate_identity(
            "CREATE TEMPORARY TABLE IF NOT EXISTS t (a STRING NOT NULL COMMENT 'x', b BYTES, "
            "c TIMESTAMP(3), d TIMESTAMP_LTZ(3), e ARRAY<STRING>, f MAP<STRING, BIGINT>, "
            "g ROW<a INT, b STRING>, h DECIMAL(10, 2), i TINYINT, j SMALLINT, k INT, l BIGINT, "
            "m FLOAT, n DOUBLE, o BOOLEAN, p DATE, q TIME, r VARCHAR(10), "
            "proc_time AS PROCTIME(), ts AS TO_TIMESTAMP(s), "
            "`offset` BIGINT METADATA VIRTUAL, "
            "kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL, "
            "WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '30' SECOND, "
            "PRIMARY KEY (a, b) NOT ENFORCED) "
            "COMMENT 'table comment' PARTITIONED BY (a, b) "
            "WITH ('connector' = 'kafka', 'topic' = 'matih.ai.state-changes', "
            "'properties.bootstrap.servers' = '127.0.0.1:9092', 'format' = 'json')"
        )
        tree = self.parse("CREATE TABLE t (k BIGINT METADATA FROM 'offset' VIRTUAL, w AS PROCTIME())")
        self.assertIsInstance(tree.find(MetadataColumnConstraint), MetadataColumnConstraint)
        self.assertIsInstance(tree.find(exp.ComputedColumnConstraint), exp.ComputedColumnConstraint)
        tree = self.parse("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts)")
        self.assertIsInstance(tree.find(exp.WatermarkColumnConstraint), exp.WatermarkColumnConstraint)
        # keys are always quoted strings on output
        self.assertEqual(
            self.parse("CREATE TABLE t (a INT) WITH (connector = 'datagen')").sql("flink"),
            "CREATE TABLE t (a INT) WITH ('connector' = 'datagen')",
        )

    def test_create_like_view_drop(self):
        self.validate_identity("CREATE TABLE t2 WITH ('k' = 'v') LIKE t1 (EXCLUDING OPTIONS)")
        self.validate_identity("CREATE TABLE t2 (a INT) WITH ('k' = 'v') LIKE t1 (INCLUDING ALL EXCLUDING WATERMARKS)")
        self.validate_identity("CREATE TABLE t2 WITH ('k' = 'v') LIKE t1")
        self.validate_identity("CREATE TEMPORARY VIEW v AS SELECT a FROM t WHERE b > 1")
        self.validate_identity("DROP TABLE IF EXISTS a.b.c")
        self.validate_identity("DROP TEMPORARY TABLE IF EXISTS t")

    def test_functions_and_jars(self):
        tree = self.validate_identity(
            "CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS SM_TOP_N AS 'dev.streammetrics.flink.TopN' LANGUAGE JAVA"
        )
        self.assertIsInstance(tree, CreateFunction)
        self.assertEqual(tree.this.name, "SM_TOP_N")
        self.assertEqual(tree.args["class_name"].name, "dev.streammetrics.flink.TopN")
        self.validate_identity("CREATE TEMPORARY FUNCTION f AS 'a.B'")
        self.validate_identity("CREATE FUNCTION c.d.f AS 'a.B' LANGUAGE SCALA USING JAR '/x.jar', JAR 'hdfs:///y.jar'")
        self.validate_identity("create function f as 'a.B' language java", "CREATE FUNCTION f AS 'a.B' LANGUAGE JAVA")
        self.assertIsInstance(self.validate_identity("CREATE TEMPORARY TABLE t (a INT)"), exp.Create)
        tree = self.validate_identity("ADD JAR '/tmp/streammetrics-functions.jar'")
        self.assertIsInstance(tree, AddJar)
        self.assertEqual(tree.name, "/tmp/streammetrics-functions.jar")
        with self.assertRaises(ParseError):
            sqlglot.parse_one("CREATE FUNCTION f", read="flink")
        with self.assertRaises(ParseError):
            sqlglot.parse_one("ADD JARS '/x.jar'", read="flink")

    def test_window_tvfs(self):
        tree = self.validate_identity(
            "SELECT window_start, window_end, tenant_id, COUNT(DISTINCT entity_id) AS total "
            "FROM TABLE(TUMBLE(TABLE state_changes, DESCRIPTOR(`timestamp`), INTERVAL '15' MINUTE)) "
            "WHERE entity_type = 'session_phase' GROUP BY window_start, window_end, tenant_id"
        )
        tvf = tree.find(WindowTVF)
        self.assertEqual(tvf.this.name, "TUMBLE")
        self.assertIsInstance(tvf.expressions[0], TableArgument)
        self.assertIsInstance(tvf.expressions[1], Descriptor)
        self.assertIsInstance(tvf.parent, exp.TableFromRows)
        self.validate_identity("SELECT * FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '1' HOUR))")
        self.validate_identity(
            "SELECT * FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '1' HOUR, INTERVAL '1' MINUTE))"
        )
        self.validate_identity("SELECT * FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY))")
        tree = self.validate_identity(
            "SELECT * FROM TABLE(SESSION(TABLE t PARTITION BY tenant_id, DESCRIPTOR(ts), INTERVAL '10' MINUTE))"
        )
        self.assertEqual(tree.find(TableArgument).args["partition_by"][0].name, "tenant_id")
        tree = self.validate_identity(
            "SELECT * FROM TABLE(TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), "
            "SIZE => INTERVAL '10' MINUTE, `OFFSET` => INTERVAL '1' MINUTE)) AS w"
        )
        self.assertIsInstance(tree.find(WindowTVF).expressions[0], exp.Kwarg)
        self.validate_identity(
            "WITH v AS (SELECT * FROM s) SELECT * FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) AS w"
        )
        # legacy group window function stays a plain function call
        self.validate_identity("SELECT TUMBLE_START(ts, INTERVAL '1' HOUR) FROM t GROUP BY TUMBLE(ts, INTERVAL '1' HOUR)")

    def test_window_tvf_built_programmatically(self):
        tvf = WindowTVF(
            this=exp.var("TUMBLE"),
            expressions=[
                TableArgument(this=exp.to_table("state_changes")),
                Descriptor(expressions=[exp.column("timestamp")]),
                exp.Interval(this=exp.Literal.string("15"), unit=exp.var("MINUTE")),
            ],
        )
        query = exp.select("window_start").from_(exp.TableFromRows(this=tvf, alias=exp.TableAlias(this=exp.to_identifier("w"))))
        self.assertEqual(
            query.sql("flink"),
            "SELECT window_start FROM TABLE(TUMBLE(TABLE state_changes, DESCRIPTOR(`timestamp`), INTERVAL '15' MINUTE)) AS w",
        )

    def test_window_tvf_unsupported_elsewhere(self):
        tree = self.parse("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))")
        self.assert_unsupported(tree, "trino")
        self.assert_unsupported(tree, "spark")

    def test_json_value(self):
        self.validate_all(
            "JSON_VALUE(metadata, '$.duration_ms')",
            read={"trino": "JSON_EXTRACT_SCALAR(metadata, '$.duration_ms')"},
            write={"trino": "JSON_EXTRACT_SCALAR(metadata, '$.duration_ms')"},
        )
        self.assertIsInstance(self.parse("JSON_VALUE(m, '$.a')"), exp.JSONExtractScalar)
        self.assertEqual(
            sqlglot.transpile("TRY_CAST(JSON_VALUE(metadata, '$.duration_ms') AS DOUBLE)", read="flink", write="trino"),
            ["TRY_CAST(JSON_EXTRACT_SCALAR(metadata, '$.duration_ms') AS DOUBLE)"],
        )
        self.validate_identity("JSON_VALUE(m, '$.a' RETURNING DOUBLE)")
        self.validate_identity("JSON_VALUE(m, '$.a' RETURNING INT DEFAULT 0 ON ERROR)")
        self.validate_identity("JSON_VALUE(m, '$.a' NULL ON EMPTY)")
        self.validate_identity("JSON_VALUE(m, '$.a' RETURNING INT DEFAULT 1 ON EMPTY DEFAULT 0 ON ERROR)")

    def test_casts_and_types(self):
        self.validate_all(
            "TRY_CAST(x AS DOUBLE)",
            read={"trino": "TRY_CAST(x AS DOUBLE)", "spark": "TRY_CAST(x AS DOUBLE)"},
            write={"trino": "TRY_CAST(x AS DOUBLE)"},
        )
        self.validate_identity("CAST(x AS ARRAY<STRING>)")
        self.validate_all(
            "CAST(x AS STRING)",
            read={"trino": "CAST(x AS VARCHAR)"},
            write={"trino": "CAST(x AS VARCHAR)", "spark": "CAST(x AS STRING)"},
        )
        self.validate_all(
            "CAST(x AS TIMESTAMP_LTZ(3))",
            read={"trino": "CAST(x AS TIMESTAMP(3) WITH TIME ZONE)"},
            write={"trino": "CAST(x AS TIMESTAMP(3) WITH TIME ZONE)"},
        )
        self.validate_identity("CAST(x AS TIMESTAMP(3) WITH LOCAL TIME ZONE)", "CAST(x AS TIMESTAMP_LTZ(3))")
        self.validate_all("CAST(x AS BYTES)", write={"trino": "CAST(x AS VARBINARY)"})
        self.validate_identity("CAST(x AS ROW<a INT, `value` STRING>)")
        self.validate_identity("CAST(x AS MAP<STRING, ARRAY<BIGINT>>)")

    def test_intervals(self):
        self.validate_identity("INTERVAL '900' SECOND(3)")
        self.validate_all("INTERVAL '1' DAY", read={"trino": "INTERVAL '1' DAY"}, write={"trino": "INTERVAL '1' DAY"})
        self.validate_identity("INTERVAL '10 00:00:00.004' DAY TO SECOND(3)")
        self.validate_identity("ts < CURRENT_WATERMARK(ts)")

    def test_arrays_maps_windows(self):
        self.validate_all("ARRAY['a', 'b']", read={"trino": "ARRAY['a', 'b']", "spark": "ARRAY('a', 'b')"},
                          write={"trino": "ARRAY['a', 'b']", "spark": "ARRAY('a', 'b')"})
        self.validate_identity(
            "ARRAY_REMOVE(ARRAY[MAX(v) FILTER (WHERE rn = 1), MAX(v) FILTER (WHERE rn = 2)], CAST(NULL AS STRING))"
        )
        self.validate_identity("MAP['a', 1]")
        self.validate_all(
            "ROW_NUMBER() OVER (PARTITION BY window_start, window_end, tenant_id ORDER BY c DESC, v ASC)",
            read={"spark": "ROW_NUMBER() OVER (PARTITION BY window_start, window_end, tenant_id ORDER BY c DESC, v ASC)"},
            # Flink sorts NULLs first for ASC (checked with PyFlink), Trino last
            write={"trino": "ROW_NUMBER() OVER (PARTITION BY window_start, window_end, tenant_id ORDER BY c DESC, v ASC NULLS FIRST)"},
        )
        self.validate_identity("COUNT(*) FILTER (WHERE x > 1)")

    def test_functions(self):
        self.validate_all(
            "CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / GREATEST(COUNT(DISTINCT entity_id), 1)",
            write={"trino": "CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / GREATEST(COUNT(DISTINCT entity_id), 1)"},
        )
        for sql in ("CURRENT_WATERMARK(ts)", "PROCTIME()", "TO_TIMESTAMP_LTZ(x, 3)", "LISTAGG(x, ',')",
                    "ARRAY_AGG(x)", "a || b", "TO_TIMESTAMP(s)"):
            self.validate_identity(sql)
        self.validate_all("DATE_FORMAT(ts, 'yyyy-MM-dd')", read={"trino": "DATE_FORMAT(ts, '%Y-%m-%d')"},
                          write={"trino": "DATE_FORMAT(ts, '%Y-%m-%d')"})

    def test_hints(self):
        tree = self.validate_identity("SELECT /*+ STATE_TTL('a' = '1d', 'b' = '12h') */ a FROM t")
        self.assertIsInstance(tree.args["hint"], exp.Hint)
        tree = self.validate_identity("SELECT * FROM t /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */")
        self.assertIsInstance(tree.find(exp.Table).args["hints"][0], exp.Hint)
        self.validate_identity(
            "SELECT * FROM a.t /*+ OPTIONS('k' = 'v') */ AS x JOIN u /*+ OPTIONS('k' = 'w') */ ON x.id = u.id"
        )

    def test_insert(self):
        self.validate_identity("INSERT INTO polaris.matih_analytics.session_analytics SELECT a, b FROM t")
        tree = self.validate_identity("INSERT INTO t WITH a AS (SELECT 1 AS x) SELECT x FROM a")
        self.assertIsInstance(tree.expression, exp.Select)
        self.validate_all(
            "INSERT INTO t WITH a AS (SELECT 1 AS x) SELECT x FROM a",
            read={"trino": "WITH a AS (SELECT 1 AS x) INSERT INTO t SELECT x FROM a"},
        )
        self.validate_identity("INSERT INTO t (a, b) SELECT a, b FROM s")
        self.validate_identity("INSERT OVERWRITE t SELECT a FROM s")

    def test_statement_set(self):
        # a semicolon after END ends the statement set; what follows is the next statement
        trees = sqlglot.parse("EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; END; SET 'k' = 'v';", read="flink")
        self.assertIsInstance(trees[0], StatementSet)
        self.assertIsInstance(trees[1], exp.Set)
        sql = "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT * FROM s; INSERT INTO b SELECT * FROM s; END"
        tree = self.validate_identity(sql)
        self.assertIsInstance(tree, StatementSet)
        self.assertEqual([type(e) for e in tree.expressions], [exp.Insert, exp.Insert])
        self.assertEqual(
            tree.sql("flink", pretty=True),
            "EXECUTE STATEMENT SET\nBEGIN\n  INSERT INTO a\n  SELECT\n    *\n  FROM s;\n"
            "  INSERT INTO b\n  SELECT\n    *\n  FROM s;\nEND",
        )
        trees = sqlglot.parse(
            "SET 'a' = 'b'; BEGIN STATEMENT SET; INSERT INTO a SELECT * FROM s; "
            "INSERT INTO b SELECT * FROM s; END; SELECT 1;",
            read="flink",
        )
        self.assertEqual([type(e) for e in trees], [exp.Set, StatementSet, exp.Select])
        self.assertEqual(trees[1].sql("flink"), sql)

    def test_explain_show_stop(self):
        tree = self.validate_identity("EXPLAIN PLAN FOR SELECT a FROM t")
        self.assertIsInstance(tree, Explain)
        self.validate_identity("EXPLAIN SELECT a FROM t")
        self.validate_identity("EXPLAIN CHANGELOG_MODE, ESTIMATED_COST INSERT INTO t SELECT a FROM s")
        for sql in ("SHOW JOBS", "SHOW TABLES", "SHOW CATALOGS", "SHOW DATABASES", "SHOW CURRENT CATALOG",
                    "SHOW TABLES FROM db LIKE 'a%'", "SHOW TABLES FROM db NOT LIKE 'a%'", "SHOW CREATE TABLE a.b"):
            self.assertIsInstance(self.validate_identity(sql), exp.Show)
        self.assertIsInstance(self.validate_identity("STOP JOB 'id' WITH SAVEPOINT"), StopJob)
        self.validate_identity("STOP JOB 'id' WITH SAVEPOINT WITH DRAIN")
        self.validate_identity("STOP JOB 'id'")
        for sql in ("SHOW NONSENSE", "EXECUTE PLAN 'x'", "BEGIN TRANSACTION"):
            with self.assertRaises(ParseError):
                sqlglot.parse_one(sql, read="flink")

    def test_unsupported(self):
        self.assert_unsupported(exp.select(exp.DateBin(this=exp.column("ts"), expression=exp.Interval(
            this=exp.Literal.string("1"), unit=exp.var("HOUR")))).from_("t"))
        self.assert_unsupported(sqlglot.parse_one("SELECT a FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY a) = 1", read="snowflake"))
        self.assert_unsupported(sqlglot.parse_one("SELECT x FROM t LATERAL VIEW EXPLODE(arr) v AS x", read="spark"))

    def test_full_script_pretty(self):
        trees = sqlglot.parse(FULL_SCRIPT, read="flink")
        for tree in trees:
            _no_command(tree)
        pretty = ";\n\n".join(tree.sql("flink", pretty=True) for tree in trees) + ";"
        reparsed = sqlglot.parse(pretty, read="flink")
        self.assertEqual(reparsed, trees)
        self.assertEqual(";\n\n".join(t.sql("flink", pretty=True) for t in reparsed) + ";", pretty)
        # hand-written looking output: string keys, one option per line, Flink clauses
        self.assertIn(
            "WITH (\n  'connector' = 'kafka',\n  'topic' = 'matih.ai.state-changes',\n"
            "  'properties.bootstrap.servers' = '127.0.0.1:9092',\n  'format' = 'json'\n);",
            pretty,
        )
        self.assertIn("  WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '30' SECOND\n)", pretty)
        self.assertIn(")\nPARTITIONED BY (tenant_id)\nWITH (\n  'format-version' = '2'\n);", pretty)
        self.assertIn("INSERT INTO polaris.matih_analytics.session_analytics\nWITH windowed AS (", pretty)
        self.assertIn("FROM TABLE(TUMBLE(TABLE state_changes, DESCRIPTOR(`timestamp`), INTERVAL '15' MINUTE))", pretty)
        self.assertIn("LEFT JOIN top_states AS s\n", pretty)
        self.assertNotRegex(pretty, re.compile(r"\bVARCHAR\b|TIMESTAMPTZ|STRUCT"))


@pytest.mark.flink
@pytest.mark.skipif(importlib.util.find_spec("pyflink") is None, reason="pyflink not installed")
def test_full_script_runs_on_flink():
    """Every statement of FULL_SCRIPT, as generated by the dialect, is accepted by real Flink."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    insert = None
    for tree in sqlglot.parse(FULL_SCRIPT, read="flink"):
        if isinstance(tree, exp.Set):  # SQL-client statement: apply it through the config API
            item = tree.expressions[0].this
            env.get_config().set(item.this.name, item.expression.name)
            continue
        if isinstance(tree, exp.Create) and tree.kind in ("CATALOG", "DATABASE"):
            continue  # needs the iceberg catalog jars
        if isinstance(tree, exp.Create):
            # local stand-ins for the connectors, table names without catalog/db
            table = tree.find(exp.Table)
            table.set("catalog", None)
            table.set("db", None)
            connector = "datagen" if tree.args.get("properties") and "kafka" in tree.sql("flink") else "blackhole"
            props = [p for p in tree.args["properties"].expressions if type(p) is not exp.Property]
            props.append(exp.Property(this=exp.Literal.string("connector"), value=exp.Literal.string(connector)))
            tree.set("properties", exp.Properties(expressions=props))
        if isinstance(tree, exp.Insert):
            tree.this.set("catalog", None)
            tree.this.set("db", None)
            insert = tree.sql("flink", pretty=True)
            continue
        env.execute_sql(tree.sql("flink", pretty=True))
    assert insert is not None
    plan = env.explain_sql(insert)
    assert "session_analytics" in plan
    # the accepted INSERT puts its CTEs after INSERT INTO (the form the dialect emits)
    assert insert.startswith("INSERT INTO session_analytics\nWITH windowed AS (")
