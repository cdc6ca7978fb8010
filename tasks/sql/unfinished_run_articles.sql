-- Every revision of the articles revised by runs still marked running or by the latest run
-- (after an unclean shutdown: the killed run's last batches, or a run killed after it finished,
-- in its search refresh), counted per article as a full scan sees them (`|| ''` keeps the
-- filters off the indexes, the row-group statistics and join-filter pushdown).
SELECT article_id || '' AS article_id, count(*) AS revisions
FROM revisions
WHERE article_id || '' IN (
    SELECT article_id || '' FROM revisions
    WHERE run_id || '' IN (
        SELECT run_id FROM ingest_runs
        WHERE status = 'running'
           OR run_id = (SELECT arg_max(run_id, started_at) FROM ingest_runs)
    )
)
GROUP BY ALL;
