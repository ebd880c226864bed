{#- Metric building blocks. A macro named flink__X or trino__X overrides X for that engine. -#}

{#- A scalar read from a JSON string column. A value that does not convert to `type` is NULL,
    never a job failure (Flink's JSON_VALUE ... RETURNING fails the job on "abc"; TRY_CAST does not). -#}
{% macro flink__json_value(column, path, type) -%}
{% if type | upper == 'STRING' %}JSON_VALUE({{ column }}, '{{ path }}'){% else %}TRY_CAST(JSON_VALUE({{ column }}, '{{ path }}') AS {{ type }}){% endif %}
{%- endmacro %}

{% macro trino__json_value(column, path, type) -%}
{% if type | upper == 'STRING' %}JSON_EXTRACT_SCALAR({{ column }}, '{{ path }}'){% else %}TRY_CAST(JSON_EXTRACT_SCALAR({{ column }}, '{{ path }}') AS {{ type }}){% endif %}
{%- endmacro %}

{#- Division that never divides by zero: the denominator is at least 1. -#}
{% macro safe_ratio(numerator, denominator) -%}
CAST({{ numerator }} AS DOUBLE) / GREATEST({{ denominator }}, 1)
{%- endmacro %}

{#- Count of events whose `column` equals `value`. -#}
{% macro count_where(column, value) -%}
SUM(CASE WHEN {{ column }} = '{{ value }}' THEN 1 ELSE 0 END)
{%- endmacro %}

{#- Fraction of distinct entities that reached `state`: the spec's formula, verbatim. -#}
{% macro completion_rate(state_column='to_state', state='completed', entity_column='entity_id') -%}
{{ safe_ratio(count_where(state_column, state), 'COUNT(DISTINCT ' ~ entity_column ~ ')') }}
{%- endmacro %}
