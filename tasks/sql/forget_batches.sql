-- The batch keys of finished or crashed runs ($ids) are no longer needed: no retry can come.
DELETE FROM batch_writes WHERE run_id IN (SELECT unnest($ids));
