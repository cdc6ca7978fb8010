-- story_summary (migration 017) built again from every revision: for a ledger whose revisions
-- were written by something other than the batch write (the benchmarks' generated ledgers).
DELETE FROM story_summary;
INSERT INTO story_summary
SELECT article_id,
       max(revision),
       count(*),
       max(observed_at),
       arg_max(outlet, revision),
       arg_max(language, revision),
       count(*) FILTER (WHERE list_contains(changed_fields, 'title'))
FROM revisions
GROUP BY article_id;
