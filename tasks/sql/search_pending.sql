-- The next chunk of revisions not yet in the full-text index, as a rowid range (rowids are
-- only used inside the transaction that read them). At most $limit revisions: every
-- unindexed revision with a rowid up to the returned maximum.
SELECT min(rowid) AS first_row, max(rowid) AS last_row, count(*) AS revisions
FROM (
    SELECT r.rowid
    FROM revisions AS r
    ANTI JOIN search_docs AS d USING (article_id, revision)
    ORDER BY r.rowid
    LIMIT $limit
);
