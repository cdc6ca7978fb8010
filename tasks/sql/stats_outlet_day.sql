-- Per outlet and day (UTC) of observation, the last $days days that have revisions: new
-- stories, revisions of known stories, stories touched, and words added.
WITH days AS (
    SELECT DISTINCT CAST(timezone('UTC', observed_at) AS DATE) AS day
    FROM revisions
    ORDER BY day DESC
    LIMIT $days
)
SELECT
    CAST(timezone('UTC', r.observed_at) AS DATE)        AS day,
    coalesce(r.outlet, '(unknown)')                     AS outlet,
    count(*) FILTER (WHERE r.revision = 1)              AS new_stories,
    count(*) FILTER (WHERE r.revision > 1)              AS edits,
    count(DISTINCT r.article_id)                        AS stories,
    sum(r.words_added) FILTER (WHERE r.revision > 1)    AS words_added_by_edits
FROM revisions AS r
WHERE CAST(timezone('UTC', r.observed_at) AS DATE) IN (SELECT day FROM days)
GROUP BY ALL
ORDER BY day DESC, new_stories + edits DESC, outlet;
