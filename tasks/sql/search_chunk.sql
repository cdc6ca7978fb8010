-- The revisions of one chunk ($first_row..$last_row, not yet indexed), numbered from
-- $first_doc_id, with title and text as one document (the fts extension indexes the fields
-- separately but scores them as one: same tokens, same counts).
CREATE OR REPLACE TEMP TABLE search_chunk AS
SELECT
    $first_doc_id + row_number() OVER (ORDER BY r.rowid) - 1 AS doc_id,
    r.article_id,
    r.revision,
    r.observed_at,
    coalesce(r.title, '') || ' ' || r.text AS body
FROM revisions AS r
ANTI JOIN search_docs AS d USING (article_id, revision)
WHERE r.rowid BETWEEN $first_row AND $last_row;
