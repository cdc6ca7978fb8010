-- Record the start of a run. A retry of the begin step whose first attempt committed (its
-- task failed afterwards) finds the row there and leaves it as it is.
INSERT INTO ingest_runs (run_id, flow, started_at, status, orchestrator, prefect_flow_run_id,
                         host, pid, arguments)
VALUES ($run_id, $flow, $started_at, 'running', $orchestrator, $prefect_flow_run_id,
        $host, $pid, $arguments::JSON)
ON CONFLICT (run_id) DO NOTHING;
