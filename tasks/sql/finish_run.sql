UPDATE ingest_runs
SET finished_at = $finished_at, status = $status, new_count = $new, revised_count = $revised,
    unchanged_count = $unchanged, failed_count = $failed, skipped_count = $skipped
WHERE run_id = $run_id;
