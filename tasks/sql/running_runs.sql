-- Runs still marked running on this host (to detect ones whose process died).
SELECT run_id, pid FROM ingest_runs WHERE status = 'running' AND host = $host;
