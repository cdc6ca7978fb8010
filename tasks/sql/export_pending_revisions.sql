-- The revisions not yet exported to $target (every revision when it has no marks), with the
-- story's identity and the partition columns an export can use (all in UTC). $since (the
-- earliest observed_at among them) changes no result; it lets DuckDB skip the row groups of
-- older revisions, texts included, by their min/max statistics (revisions are appended
-- roughly in time order).
SELECT
    r.*,
    a.identity,
    a.source_kind,
    CAST(timezone('UTC', r.observed_at) AS DATE)     AS day,
    strftime(timezone('UTC', r.observed_at), '%Y-%m') AS month,
    year(timezone('UTC', r.observed_at))              AS year
FROM revisions_timed AS r
JOIN articles AS a USING (article_id)
LEFT JOIN parquet_export_marks AS m ON m.target = $target AND m.article_id = r.article_id
WHERE r.observed_at >= $since AND r.revision > coalesce(m.revision, 0)
