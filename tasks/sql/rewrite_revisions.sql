-- Rewrite the revisions of $ids (a repair after an unclean shutdown): copy, delete by row id,
-- insert again, so their row groups, statistics and index entries are written afresh.
CREATE OR REPLACE TEMP TABLE revisions_repair AS
SELECT * FROM revisions WHERE article_id || '' IN (SELECT unnest($ids));
DELETE FROM revisions WHERE rowid IN (
    SELECT rowid FROM revisions WHERE article_id || '' IN (SELECT unnest($ids))
);
INSERT INTO revisions SELECT * FROM revisions_repair;
DROP TABLE revisions_repair;
