-- session_analytics: Flink streaming job compiled by streammetrics from models/session_analytics.yml. Do not edit: recompile.
-- Secrets and environment values appear as ${env:...} placeholders; deploy substitutes them at submit time.

-- Job settings
SET 'execution.checkpointing.interval' = '60 s';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'pipeline.name' = 'session_analytics';
SET 'table.local-time-zone' = 'UTC';

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
    *
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
    AVG(TRY_CAST(JSON_VALUE(metadata, '$.duration_ms') AS DOUBLE)) AS avg_duration_ms,
    AVG(TRY_CAST(JSON_VALUE(metadata, '$.turn_count') AS DOUBLE)) AS avg_turns,
    CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / GREATEST(COUNT(DISTINCT entity_id), 1) AS completion_rate,
    COUNT(DISTINCT triggered_by) AS unique_users
  FROM events
  GROUP BY
    window_start, window_end, tenant_id
), top_values AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    window_time,
    1 AS metric,
    JSON_VALUE(metadata, '$.agent_id') AS v
  FROM events
  UNION ALL
  SELECT
    window_start,
    window_end,
    tenant_id,
    window_time,
    2 AS metric,
    JSON_VALUE(metadata, '$.intent') AS v
  FROM events
), top_counts AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    window_time,
    metric,
    v,
    COUNT(*) AS c
  FROM top_values
  GROUP BY
    window_start, window_end, tenant_id, window_time, metric, v
), top_ranked AS (
  SELECT
    *
  FROM (
    SELECT
      *,
      ROW_NUMBER() OVER (PARTITION BY window_start, window_end, tenant_id, metric ORDER BY v IS NULL, c DESC, v ASC) AS rn
    FROM top_counts
  )
  WHERE
    rn <= 5
), top_lists AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    ARRAY_REMOVE(ARRAY[MAX(v) FILTER (WHERE metric = 1 AND rn = 1), MAX(v) FILTER (WHERE metric = 1 AND rn = 2), MAX(v) FILTER (WHERE metric = 1 AND rn = 3), MAX(v) FILTER (WHERE metric = 1 AND rn = 4), MAX(v) FILTER (WHERE metric = 1 AND rn = 5)], CAST(NULL AS STRING)) AS top_agents,
    ARRAY_REMOVE(ARRAY[MAX(v) FILTER (WHERE metric = 2 AND rn = 1), MAX(v) FILTER (WHERE metric = 2 AND rn = 2), MAX(v) FILTER (WHERE metric = 2 AND rn = 3), MAX(v) FILTER (WHERE metric = 2 AND rn = 4), MAX(v) FILTER (WHERE metric = 2 AND rn = 5)], CAST(NULL AS STRING)) AS top_intents
  FROM top_ranked
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
  COALESCE(t.top_agents, ARRAY_REMOVE(ARRAY[CAST(NULL AS STRING)], CAST(NULL AS STRING))) AS top_agents,
  COALESCE(t.top_intents, ARRAY_REMOVE(ARRAY[CAST(NULL AS STRING)], CAST(NULL AS STRING))) AS top_intents
FROM metrics AS m
LEFT JOIN top_lists AS t
  ON m.window_start = t.window_start
  AND m.window_end = t.window_end
  AND m.tenant_id = t.tenant_id
;
