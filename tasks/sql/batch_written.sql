-- The outcomes of a batch already written in this run ($run_id, $batch_key), if any.
SELECT outcomes FROM batch_writes WHERE run_id = $run_id AND batch_key = $batch_key;
