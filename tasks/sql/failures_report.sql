-- What failed, why, how often: one row per input, newest reason first; `recovered` when the
-- input was stored (or seen unchanged) after its last failure; `refused` when a policy refused
-- it (SSRF guard, scheme, robots.txt): it is not retried until that policy changes.
SELECT
    f.input,
    arg_max(f.stage, f.failure_id)    AS stage,
    arg_max(f.error, f.failure_id)    AS error,
    arg_max(f.message, f.failure_id)  AS reason,
    count(*)                          AS failures,
    min(f.occurred_at)                AS first_failed_at,
    max(f.occurred_at)                AS last_failed_at,
    coalesce(any_value(ok.last_ok) > max(f.occurred_at), false) AS recovered,
    coalesce(any_value(t.gave_up), false) AS gave_up,
    coalesce(any_value(t.refused_policy) IS NOT NULL, false) AS refused,
    any_value(t.next_check_at)        AS next_retry_at
FROM failures AS f
LEFT JOIN tracked_urls AS t ON t.url = coalesce(f.identity, f.input)
LEFT JOIN (
    SELECT input, max(observed_at) AS last_ok FROM observations
    WHERE outcome <> 'failed' GROUP BY input
) AS ok ON ok.input = f.input
GROUP BY f.input
ORDER BY last_failed_at DESC
LIMIT $limit;
