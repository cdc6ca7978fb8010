-- Move the marks of $target to the stories' revisions just exported.
INSERT INTO parquet_export_marks (target, article_id, revision)
SELECT $target, article_id, revision FROM new_marks
ON CONFLICT (target, article_id) DO UPDATE SET revision = excluded.revision
