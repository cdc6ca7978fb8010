-- A repair after an unclean shutdown, step 2 (after rewrite_revisions_copy, no parameters: a
-- multi-statement string takes none): delete the copied revisions by row id and insert them
-- again, so their row groups, statistics and index entries are written afresh.
DELETE FROM revisions WHERE rowid IN (
    SELECT rowid FROM revisions
    WHERE article_id || '' IN (SELECT article_id FROM revisions_repair)
);
INSERT INTO revisions SELECT * FROM revisions_repair;
DROP TABLE revisions_repair;
