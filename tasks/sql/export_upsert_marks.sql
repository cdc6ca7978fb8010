-- Move the marks of $target to the stories' revisions just exported ($article_ids and
-- $revisions: two lists of the same length, one mark per story).
INSERT INTO parquet_export_marks (target, article_id, revision)
SELECT $target, unnest($article_ids), unnest($revisions)
ON CONFLICT (target, article_id) DO UPDATE SET revision = excluded.revision
