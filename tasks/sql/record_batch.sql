-- Record a batch write (inside its transaction): its key and the outcomes it returns.
INSERT INTO batch_writes VALUES ($run_id, $batch_key, $written_at, $outcomes);
