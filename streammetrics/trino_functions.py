"""Names of Trino (476) built-in functions, to check generated queries without a server.

From Trino's function list (`SHOW FUNCTIONS` / docs "List of functions and operators"); the
common subset a metrics query can reach. A name missing here makes the check fail loudly, which is
the safe direction: add it after checking Trino's documentation.
"""

TRINO_FUNCTIONS = frozenset("""
abs acos all_match any_match any_value approx_distinct approx_most_frequent approx_percentile
approx_set arbitrary array_agg array_distinct array_except array_histogram array_intersect
array_join array_max array_min array_position array_remove array_sort array_union arrays_overlap
asin at_timezone atan atan2 avg bar bitwise_and bitwise_or bitwise_xor bool_and bool_or
cardinality cast cbrt ceil ceiling char_length character_length checksum chr codepoint coalesce
combinations concat concat_ws contains contains_sequence corr cos cosh count count_if covar_pop
covar_samp crc32 cume_dist current_date current_time current_timestamp current_timezone date
date_add date_diff date_format date_parse date_trunc day day_of_month day_of_week day_of_year
degrees dense_rank dow doy e element_at empty_approx_set every exp extract filter first_value
flatten floor format format_datetime from_base64 from_hex from_iso8601_date from_iso8601_timestamp
from_unixtime from_unixtime_nanos from_utf8 geometric_mean greatest hamming_distance histogram hour
human_readable_seconds if index infinity is_finite is_infinite is_json_scalar is_nan json_array_contains
json_array_get json_array_length json_extract json_extract_scalar json_format json_parse json_size
json_query json_value json_exists kurtosis lag last_day_of_month last_value lead least length
levenshtein_distance listagg ln localtime localtimestamp log log10 log2 lower lpad ltrim map
map_agg map_concat map_entries map_filter map_from_entries map_keys map_union map_values max max_by
md5 millisecond min min_by minute mod month multimap_agg nan none_match normalize now nth_value
ntile nullif parse_datetime parse_duration percent_rank pi position pow power quarter radians rand
random range rank reduce regexp_count regexp_extract regexp_extract_all regexp_like regexp_position
regexp_replace regexp_split repeat replace reverse round row_number rpad rtrim second sequence sha1
sha256 sha512 shuffle sign sin sinh skewness slice split split_part split_to_map sqrt starts_with
stddev stddev_pop stddev_samp strpos substr substring sum tan tanh timezone_hour timezone_minute
to_base64 to_char to_hex to_iso8601 to_milliseconds to_unixtime to_utf8 transform transform_keys
transform_values trim truncate try try_cast typeof upper url_decode url_encode url_extract_host
url_extract_parameter url_extract_path uuid value_at_quantile values_at_quantiles var_pop var_samp
unnest variance week week_of_year width_bucket with_timezone word_stem year year_of_week yow zip zip_with
""".split())
