-- A repair after an unclean shutdown, step 1: copy the revisions of $ids aside (found by a full
-- scan). rewrite_revisions then writes them afresh.
CREATE OR REPLACE TEMP TABLE revisions_repair AS
SELECT * FROM revisions WHERE article_id || '' IN (SELECT unnest($ids));
