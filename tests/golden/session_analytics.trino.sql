-- session_analytics: reconciliation query compiled by streammetrics from models/session_analytics.yml. Do not edit: recompile.
-- Recomputes every metric per window and key from the raw events in Kafka, compares with the rows
-- the Flink job wrote to Iceberg, and returns one row per mismatch (metric IS NULL: a whole row is
-- missing on one side). Only closed windows are judged: window_end + watermark delay <= cut-off.
-- Parameter 1 (?): the cut-off, a TIMESTAMP(3).
-- The topic is read with every field as VARCHAR and converted here as Flink's JSON format does.
-- Events are late, as in Flink, when the watermark (max earlier event time of their partition minus
-- the delay) had already closed their window slice when they arrived; they are not counted.
WITH params AS (
  SELECT
    CAST(? AS TIMESTAMP(3)) AS cutoff
), raw_events AS (
  SELECT
    event_id,
    event_type,
    tenant_id,
    entity_type,
    entity_id,
    from_state,
    to_state,
    triggered_by,
    metadata,
    CASE WHEN REGEXP_LIKE("timestamp", '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?$') THEN TRY_CAST(REPLACE("timestamp", 'T', ' ') AS TIMESTAMP(3)) END AS "timestamp",
    _partition_id AS event_partition,
    _partition_offset AS event_offset
  FROM kafka."default"."matih.ai.state-changes"
), watermarked AS (
  SELECT
    *,
    MAX("timestamp") OVER (PARTITION BY event_partition ORDER BY event_offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - INTERVAL '30' SECOND AS watermark
  FROM raw_events
  WHERE
    "timestamp" IS NOT NULL
), events AS (
  SELECT
    *,
    date_add('millisecond', -MOD(date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00', "timestamp"), 900000), "timestamp") AS window_start
  FROM watermarked
  WHERE
    (entity_type = 'session_phase')
    AND tenant_id IS NOT NULL
    AND (watermark IS NULL OR date_add('millisecond', -1, date_add('millisecond', -MOD(date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00', "timestamp"), 900000) + 900000, "timestamp")) > watermark)
), windowed AS (
  SELECT
    *,
    date_add('millisecond', 900000, window_start) AS window_end
  FROM events
), expected AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    COUNT(DISTINCT entity_id) AS total_sessions,
    AVG(TRY_CAST(JSON_EXTRACT_SCALAR(metadata, '$.duration_ms') AS DOUBLE)) AS avg_duration_ms,
    AVG(TRY_CAST(JSON_EXTRACT_SCALAR(metadata, '$.turn_count') AS DOUBLE)) AS avg_turns,
    CAST(SUM(CASE WHEN to_state = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / GREATEST(COUNT(DISTINCT entity_id), 1) AS completion_rate,
    COUNT(DISTINCT triggered_by) AS unique_users
  FROM windowed
  GROUP BY
    window_start, window_end, tenant_id
), top_agents__top__counts AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    JSON_EXTRACT_SCALAR(metadata, '$.agent_id') AS v,
    COUNT(*) AS c
  FROM windowed
  WHERE
    JSON_EXTRACT_SCALAR(metadata, '$.agent_id') IS NOT NULL
  GROUP BY
    window_start, window_end, tenant_id, JSON_EXTRACT_SCALAR(metadata, '$.agent_id')
), top_agents__top AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    SLICE(ARRAY_AGG(v ORDER BY c DESC, v ASC), 1, 5) AS top_agents
  FROM top_agents__top__counts
  GROUP BY
    window_start, window_end, tenant_id
), top_intents__top__counts AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    JSON_EXTRACT_SCALAR(metadata, '$.intent') AS v,
    COUNT(*) AS c
  FROM windowed
  WHERE
    JSON_EXTRACT_SCALAR(metadata, '$.intent') IS NOT NULL
  GROUP BY
    window_start, window_end, tenant_id, JSON_EXTRACT_SCALAR(metadata, '$.intent')
), top_intents__top AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    SLICE(ARRAY_AGG(v ORDER BY c DESC, v ASC), 1, 5) AS top_intents
  FROM top_intents__top__counts
  GROUP BY
    window_start, window_end, tenant_id
), actual AS (
  SELECT
    window_start,
    window_end,
    tenant_id,
    total_sessions,
    avg_duration_ms,
    avg_turns,
    completion_rate,
    unique_users,
    top_agents,
    top_intents
  FROM iceberg.matih_analytics.session_analytics
), judged AS (
  SELECT
    COALESCE(e.window_start, a.window_start) AS window_start,
    COALESCE(e.window_end, a.window_end) AS window_end,
    COALESCE(e.tenant_id, a.tenant_id) AS tenant_id,
    e.total_sessions AS e_total_sessions,
    a.total_sessions AS a_total_sessions,
    e.avg_duration_ms AS e_avg_duration_ms,
    a.avg_duration_ms AS a_avg_duration_ms,
    e.avg_turns AS e_avg_turns,
    a.avg_turns AS a_avg_turns,
    e.completion_rate AS e_completion_rate,
    a.completion_rate AS a_completion_rate,
    e.unique_users AS e_unique_users,
    a.unique_users AS a_unique_users,
    t1.top_agents AS e_top_agents,
    a.top_agents AS a_top_agents,
    t2.top_intents AS e_top_intents,
    a.top_intents AS a_top_intents,
    CASE WHEN a.window_start IS NULL THEN 'sink' WHEN e.window_start IS NULL THEN 'events' END AS missing
  FROM expected AS e
  LEFT JOIN top_agents__top AS t1
    ON e.window_start = t1.window_start
    AND e.window_end = t1.window_end
    AND e.tenant_id = t1.tenant_id
  LEFT JOIN top_intents__top AS t2
    ON e.window_start = t2.window_start
    AND e.window_end = t2.window_end
    AND e.tenant_id = t2.tenant_id
  FULL OUTER JOIN actual AS a
    ON e.window_start = a.window_start
    AND e.window_end = a.window_end
    AND e.tenant_id = a.tenant_id
), closed AS (
  SELECT
    j.*
  FROM judged AS j
  CROSS JOIN params AS p
  WHERE
    j.window_end + INTERVAL '30' SECOND <= p.cutoff
)
SELECT
  window_start,
  window_end,
  tenant_id,
  CAST(NULL AS VARCHAR) AS metric,
  CAST(NULL AS VARCHAR) AS expected,
  CAST(NULL AS VARCHAR) AS actual,
  missing
FROM closed
WHERE
  missing IS NOT NULL
UNION ALL
SELECT
  window_start,
  window_end,
  tenant_id,
  'total_sessions' AS metric,
  CAST(e_total_sessions AS VARCHAR) AS expected,
  CAST(a_total_sessions AS VARCHAR) AS actual,
  missing
FROM closed
WHERE
  missing IS NULL AND (e_total_sessions IS DISTINCT FROM a_total_sessions)
UNION ALL
SELECT
  window_start,
  window_end,
  tenant_id,
  'avg_duration_ms' AS metric,
  CAST(e_avg_duration_ms AS VARCHAR) AS expected,
  CAST(a_avg_duration_ms AS VARCHAR) AS actual,
  missing
FROM closed
WHERE
  missing IS NULL AND ((e_avg_duration_ms IS NULL) <> (a_avg_duration_ms IS NULL) OR ABS(e_avg_duration_ms - a_avg_duration_ms) > 1e-09 * GREATEST(ABS(e_avg_duration_ms), ABS(a_avg_duration_ms)))
UNION ALL
SELECT
  window_start,
  window_end,
  tenant_id,
  'avg_turns' AS metric,
  CAST(e_avg_turns AS VARCHAR) AS expected,
  CAST(a_avg_turns AS VARCHAR) AS actual,
  missing
FROM closed
WHERE
  missing IS NULL AND ((e_avg_turns IS NULL) <> (a_avg_turns IS NULL) OR ABS(e_avg_turns - a_avg_turns) > 1e-09 * GREATEST(ABS(e_avg_turns), ABS(a_avg_turns)))
UNION ALL
SELECT
  window_start,
  window_end,
  tenant_id,
  'completion_rate' AS metric,
  CAST(e_completion_rate AS VARCHAR) AS expected,
  CAST(a_completion_rate AS VARCHAR) AS actual,
  missing
FROM closed
WHERE
  missing IS NULL AND ((e_completion_rate IS NULL) <> (a_completion_rate IS NULL) OR ABS(e_completion_rate - a_completion_rate) > 1e-09 * GREATEST(ABS(e_completion_rate), ABS(a_completion_rate)))
UNION ALL
SELECT
  window_start,
  window_end,
  tenant_id,
  'unique_users' AS metric,
  CAST(e_unique_users AS VARCHAR) AS expected,
  CAST(a_unique_users AS VARCHAR) AS actual,
  missing
FROM closed
WHERE
  missing IS NULL AND (e_unique_users IS DISTINCT FROM a_unique_users)
UNION ALL
SELECT
  window_start,
  window_end,
  tenant_id,
  'top_agents' AS metric,
  ARRAY_JOIN(e_top_agents, ', ') AS expected,
  ARRAY_JOIN(a_top_agents, ', ') AS actual,
  missing
FROM closed
WHERE
  missing IS NULL AND (COALESCE(e_top_agents, CAST(ARRAY[] AS ARRAY(VARCHAR))) <> COALESCE(a_top_agents, CAST(ARRAY[] AS ARRAY(VARCHAR))))
UNION ALL
SELECT
  window_start,
  window_end,
  tenant_id,
  'top_intents' AS metric,
  ARRAY_JOIN(e_top_intents, ', ') AS expected,
  ARRAY_JOIN(a_top_intents, ', ') AS actual,
  missing
FROM closed
WHERE
  missing IS NULL AND (COALESCE(e_top_intents, CAST(ARRAY[] AS ARRAY(VARCHAR))) <> COALESCE(a_top_intents, CAST(ARRAY[] AS ARRAY(VARCHAR))))
ORDER BY
  window_start, window_end, tenant_id, metric
