-- The articles revised by runs still marked running (after an unclean shutdown: the killed
-- run's last batches), with their revision count as a full scan sees it (`|| ''` keeps the
-- filter off the indexes and the row-group statistics).
SELECT article_id || '' AS article_id, count(*) AS revisions
FROM revisions
WHERE run_id || '' IN (SELECT run_id FROM ingest_runs WHERE status = 'running')
GROUP BY ALL;
