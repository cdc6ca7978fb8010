INSERT INTO ingest_runs (run_id, flow, started_at, status, orchestrator, prefect_flow_run_id,
                         host, pid, arguments)
VALUES ($run_id, $flow, $started_at, 'running', $orchestrator, $prefect_flow_run_id,
        $host, $pid, $arguments::JSON);
