-- The marks an export of $target moves to: each story's last revision, and the earliest
-- observed_at among the revisions to write (read in the same read-only snapshot as the rows
-- written, so they describe exactly those rows). Narrow columns only: this scan is cheap.
SELECT r.article_id, max(r.revision) AS revision, min(r.observed_at) AS first_observed_at
FROM revisions AS r
LEFT JOIN parquet_export_marks AS m ON m.target = $target AND m.article_id = r.article_id
WHERE r.revision > coalesce(m.revision, 0)
GROUP BY r.article_id
