-- session_analytics: reconciliation query compiled by streammetrics from models/session_analytics.yml. Do not edit: recompile.
-- Recomputes every metric per window and key from the raw events in Kafka, compares with the rows
-- the Flink job wrote to Iceberg, and returns one row per mismatching window and key: `missing` says
-- which side lacks the row ('sink' or 'events'); per metric, <metric>__mismatch, __expected, __actual. Only closed windows are judged: window_end + watermark delay <= cut-off.
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
), watermarks AS (
  -- narrow on purpose: a window function holds its whole partition (here: a Kafka partition) in memory
  SELECT
    event_partition,
    event_offset,
    MAX("timestamp") OVER (PARTITION BY event_partition ORDER BY event_offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - INTERVAL '30' SECOND AS watermark
  FROM raw_events
  WHERE
    "timestamp" IS NOT NULL
), watermarked AS (
  SELECT
    r.*,
    w.watermark
  FROM raw_events AS r
  JOIN watermarks AS w
    ON r.event_partition = w.event_partition
    AND r.event_offset = w.event_offset
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
  missing,
  COALESCE(e_total_sessions IS DISTINCT FROM a_total_sessions, FALSE) AS total_sessions__mismatch,
  CAST(e_total_sessions AS VARCHAR) AS total_sessions__expected,
  CAST(a_total_sessions AS VARCHAR) AS total_sessions__actual,
  COALESCE((e_avg_duration_ms IS NULL) <> (a_avg_duration_ms IS NULL) OR ABS(e_avg_duration_ms - a_avg_duration_ms) > 1e-09 * GREATEST(ABS(e_avg_duration_ms), ABS(a_avg_duration_ms)), FALSE) AS avg_duration_ms__mismatch,
  CAST(e_avg_duration_ms AS VARCHAR) AS avg_duration_ms__expected,
  CAST(a_avg_duration_ms AS VARCHAR) AS avg_duration_ms__actual,
  COALESCE((e_avg_turns IS NULL) <> (a_avg_turns IS NULL) OR ABS(e_avg_turns - a_avg_turns) > 1e-09 * GREATEST(ABS(e_avg_turns), ABS(a_avg_turns)), FALSE) AS avg_turns__mismatch,
  CAST(e_avg_turns AS VARCHAR) AS avg_turns__expected,
  CAST(a_avg_turns AS VARCHAR) AS avg_turns__actual,
  COALESCE((e_completion_rate IS NULL) <> (a_completion_rate IS NULL) OR ABS(e_completion_rate - a_completion_rate) > 1e-09 * GREATEST(ABS(e_completion_rate), ABS(a_completion_rate)), FALSE) AS completion_rate__mismatch,
  CAST(e_completion_rate AS VARCHAR) AS completion_rate__expected,
  CAST(a_completion_rate AS VARCHAR) AS completion_rate__actual,
  COALESCE(e_unique_users IS DISTINCT FROM a_unique_users, FALSE) AS unique_users__mismatch,
  CAST(e_unique_users AS VARCHAR) AS unique_users__expected,
  CAST(a_unique_users AS VARCHAR) AS unique_users__actual,
  COALESCE(COALESCE(e_top_agents, CAST(ARRAY[] AS ARRAY(VARCHAR))) <> COALESCE(a_top_agents, CAST(ARRAY[] AS ARRAY(VARCHAR))), FALSE) AS top_agents__mismatch,
  ARRAY_JOIN(e_top_agents, ', ') AS top_agents__expected,
  ARRAY_JOIN(a_top_agents, ', ') AS top_agents__actual,
  COALESCE(COALESCE(e_top_intents, CAST(ARRAY[] AS ARRAY(VARCHAR))) <> COALESCE(a_top_intents, CAST(ARRAY[] AS ARRAY(VARCHAR))), FALSE) AS top_intents__mismatch,
  ARRAY_JOIN(e_top_intents, ', ') AS top_intents__expected,
  ARRAY_JOIN(a_top_intents, ', ') AS top_intents__actual
FROM closed
WHERE
  missing IS NOT NULL
  OR (e_total_sessions IS DISTINCT FROM a_total_sessions)
  OR ((e_avg_duration_ms IS NULL) <> (a_avg_duration_ms IS NULL) OR ABS(e_avg_duration_ms - a_avg_duration_ms) > 1e-09 * GREATEST(ABS(e_avg_duration_ms), ABS(a_avg_duration_ms)))
  OR ((e_avg_turns IS NULL) <> (a_avg_turns IS NULL) OR ABS(e_avg_turns - a_avg_turns) > 1e-09 * GREATEST(ABS(e_avg_turns), ABS(a_avg_turns)))
  OR ((e_completion_rate IS NULL) <> (a_completion_rate IS NULL) OR ABS(e_completion_rate - a_completion_rate) > 1e-09 * GREATEST(ABS(e_completion_rate), ABS(a_completion_rate)))
  OR (e_unique_users IS DISTINCT FROM a_unique_users)
  OR (COALESCE(e_top_agents, CAST(ARRAY[] AS ARRAY(VARCHAR))) <> COALESCE(a_top_agents, CAST(ARRAY[] AS ARRAY(VARCHAR))))
  OR (COALESCE(e_top_intents, CAST(ARRAY[] AS ARRAY(VARCHAR))) <> COALESCE(a_top_intents, CAST(ARRAY[] AS ARRAY(VARCHAR))))
ORDER BY
  window_start, window_end, tenant_id
