-- Runs whose process died while they were running ($ids).
UPDATE ingest_runs SET status = 'crashed' WHERE run_id IN (SELECT unnest($ids));
