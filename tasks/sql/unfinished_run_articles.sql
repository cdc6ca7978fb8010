-- The articles revised by runs still marked running or by the latest run (after an unclean
-- shutdown: the killed run's last batches, or a run killed after it finished, in its search
-- refresh), with their revision count as a full scan sees it (`|| ''` keeps the filter off the
-- indexes and the row-group statistics).
SELECT article_id || '' AS article_id, count(*) AS revisions
FROM revisions
WHERE run_id || '' IN (
    SELECT run_id FROM ingest_runs
    WHERE status = 'running'
       OR run_id = (SELECT arg_max(run_id, started_at) FROM ingest_runs)
)
GROUP BY ALL;
