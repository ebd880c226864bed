-- session_analytics: Flink streaming job compiled by streammetrics from models/session_analytics.yml. Do not edit: recompile.
-- Secrets and environment values appear as ${env:...} placeholders; deploy substitutes them at submit time.

-- Job settings
SET 'execution.checkpointing.interval' = '60 s';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'pipeline.name' = 'session_analytics';
SET 'pipeline.object-reuse' = 'true';
SET 'table.local-time-zone' = 'UTC';
SET 'table.optimizer.agg-phase-strategy' = 'ONE_PHASE';

-- Functions: streammetrics' Java functions (streammetrics/functions/src; README.md, "Flink functions")
ADD JAR '${streammetrics:functions-jar}';

CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS SM_JSON_VALUES AS 'dev.streammetrics.flink.JsonValues' LANGUAGE JAVA;
CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS SM_TOP_N AS 'dev.streammetrics.flink.TopN' LANGUAGE JAVA;

-- Source: Kafka topic matih.ai.state-changes (malformed JSON lines are skipped; see README.md, "Bad events")
CREATE TEMPORARY TABLE state_changes (
  event_id STRING COMMENT 'Unique event identifier',
  event_type STRING COMMENT 'Event classification',
  tenant_id STRING COMMENT 'Tenant identifier',
  entity_type STRING COMMENT 'Entity type (filtered to session_phase)',
  entity_id STRING COMMENT 'Session identifier',
  from_state STRING COMMENT 'Previous state',
  to_state STRING COMMENT 'New state',
  triggered_by STRING COMMENT 'User or system that triggered the transition',
  metadata STRING COMMENT 'JSON string with session-level metrics',
  `timestamp` TIMESTAMP(3) COMMENT 'Event timestamp with watermark',
  rowtime AS COALESCE(`timestamp`, CAST('1970-01-01 00:00:00' AS TIMESTAMP(3))) COMMENT 'event time, never NULL (see README.md, "Bad events")',
  WATERMARK FOR rowtime AS rowtime - INTERVAL '30' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'matih.ai.state-changes',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'properties.group.id' = 'flink-session-analytics',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'json',
  'json.fail-on-missing-field' = 'false',
  'json.ignore-parse-errors' = 'true',
  'json.timestamp-format.standard' = 'ISO-8601',
  'scan.watermark.emit.strategy' = 'on-event'
);

-- Sink: Iceberg table polaris.matih_analytics.session_analytics
CREATE CATALOG IF NOT EXISTS polaris WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'jdbc.password' = '${env:ICEBERG_JDBC_PASSWORD:-streammetrics}',
  'jdbc.user' = 'streammetrics',
  'uri' = 'jdbc:postgresql://127.0.0.1:5432/iceberg',
  'warehouse' = 'file:///tmp/streammetrics/warehouse'
);

CREATE DATABASE IF NOT EXISTS polaris.matih_analytics;

CREATE TABLE IF NOT EXISTS polaris.matih_analytics.session_analytics (
  window_start TIMESTAMP(3) NOT NULL,
  window_end TIMESTAMP(3) NOT NULL,
  tenant_id STRING NOT NULL,
  total_sessions BIGINT NOT NULL,
  avg_duration_ms DOUBLE,
  avg_turns DOUBLE,
  completion_rate DOUBLE,
  unique_users BIGINT NOT NULL,
  top_agents ARRAY<STRING>,
  top_intents ARRAY<STRING>
) WITH (
  'format-version' = '2',
  'write.format.default' = 'parquet',
  'write.target-file-size-bytes' = '134217728'
);

-- The job: tumbling window, size 15 minutes; grouped by tenant_id; watermark delay 30 seconds
INSERT INTO polaris.matih_analytics.session_analytics
WITH events AS (
  SELECT
    -- metadata__json[i] is JSON_VALUE(metadata, path i), read with one parse per event
    *,
    SM_JSON_VALUES(metadata, '$.duration_ms', '$.turn_count', '$.agent_id', '$.intent') AS metadata__json
  FROM TABLE(TUMBLE(TABLE state_changes, DESCRIPTOR(rowtime), INTERVAL '15' MINUTE))
  WHERE
    (entity_type = 'session_phase')
    AND tenant_id IS NOT NULL
    AND `timestamp` IS NOT NULL
), metrics AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    COUNT(DISTINCT entity_id) AS total_sessions,
    AVG(TRY_CAST(metadata__json[1] AS DOUBLE)) AS avg_duration_ms,
    AVG(TRY_CAST(metadata__json[2] AS DOUBLE)) AS avg_turns,
    CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / GREATEST(COUNT(DISTINCT entity_id), 1) AS completion_rate,
    COUNT(DISTINCT triggered_by) AS unique_users,
    SM_TOP_N(metadata__json[3], 5) AS top_agents,
    SM_TOP_N(metadata__json[4], 5) AS top_intents
  FROM events
  GROUP BY
    window_start, window_end, tenant_id
)
SELECT
  m.window_start,
  m.window_end,
  m.tenant_id,
  m.total_sessions,
  m.avg_duration_ms,
  m.avg_turns,
  m.completion_rate,
  m.unique_users,
  m.top_agents,
  m.top_intents
FROM metrics AS m
;
