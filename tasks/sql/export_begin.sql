-- Record an export of $target as under way (before any of its files is written).
INSERT INTO parquet_exports (export_id, target, partition_by, started_at, status)
VALUES ($export_id, $target, $partition_by, $started_at, 'writing')
