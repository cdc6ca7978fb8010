-- Exports of $target that never finished (their process died while writing), oldest first.
SELECT export_id FROM parquet_exports
WHERE target = $target AND status = 'writing'
ORDER BY started_at
