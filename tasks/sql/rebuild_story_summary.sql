-- story_summary (migration 017) built again from every revision: for a ledger whose revisions
-- were written by something other than the batch write (the benchmarks' generated ledgers).
DELETE FROM story_summary;
INSERT INTO story_summary
/*rows*/;
