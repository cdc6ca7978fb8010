-- Every revision of the given articles ($ids: a list of article ids) with the story's
-- identity, oldest first per story: the feed entries and the revisions before them (for
-- their diffs; paired in Python). A plain list filter on each table, so DuckDB reads the
-- article_id indexes; a join or a lag() window over the texts here cost ~10x more.
WITH a AS MATERIALIZED (
    SELECT article_id, identity FROM articles WHERE article_id IN (SELECT unnest($ids))
),
r AS MATERIALIZED (
    SELECT article_id, revision, observed_at, title, authors, outlet, text, update_notes,
           changed_fields, words_added, words_removed, change_reason
    FROM revisions
    WHERE article_id IN (SELECT unnest($ids))
)
SELECT r.*, a.identity
FROM r JOIN a ON a.article_id = r.article_id
ORDER BY r.article_id, r.revision;
