-- Mark an export done with what it wrote; its marks are written in the same transaction.
UPDATE parquet_exports
SET status = 'done', finished_at = $finished_at, revisions = $revisions, files = $files
WHERE export_id = $export_id
