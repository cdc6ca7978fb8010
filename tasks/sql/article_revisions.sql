-- Every revision of one article ($article_id), oldest first, with how often it was seen, the
-- publication time it stated, why it was made, and what a feed said of the story when the
-- revision was observed (the latest feed_entries version seen by then; NULLs when no feed
-- listed it): the feed's name, title, authors and publication time (a label as `published`).
-- The story's revisions and observations are each read once by a plain filter on article_id
-- (their indexes; through the article_history view, or a count per revision, DuckDB scanned
-- whole tables: ~10x slower at 300,000 revisions).
WITH h AS MATERIALIZED (
    SELECT article_id, revision, observed_at, content_hash, title, word_count, words_added,
           words_removed, changed_fields, extractor_version, source, published_at,
           published_time_known, change_reason
    FROM revisions_timed
    WHERE article_id = $article_id
),
seen AS MATERIALIZED (
    SELECT revision, count(*) AS times_seen
    FROM observations
    WHERE article_id = $article_id
    GROUP BY revision
)
SELECT
    h.revision,
    h.observed_at,
    h.content_hash,
    h.title,
    h.word_count,
    h.words_added,
    h.words_removed,
    h.changed_fields,
    h.extractor_version,
    h.source,
    coalesce(o.times_seen, 0) AS times_seen,
    stated_time_label(h.published_at, h.published_time_known) AS published,
    h.change_reason,
    fe.feed_name,
    fe.feed_title,
    fe.feed_authors,
    stated_time_label(
        fe.feed_published_at,
        strftime(timezone('UTC', fe.feed_published_at), '%H:%M:%S') <> '00:00:00'
    ) AS feed_published
FROM h
LEFT JOIN seen AS o ON o.revision = h.revision
ASOF LEFT JOIN (
    SELECT i.article_id, e.seen_at, coalesce(f.name, e.feed_url) AS feed_name,
           e.title AS feed_title, e.authors AS feed_authors,
           coalesce(e.published_at, e.updated_at) AS feed_published_at
    FROM feed_entries AS e
    JOIN article_identities AS i ON i.identity = e.url
    LEFT JOIN feeds AS f ON f.feed_url = e.feed_url
    WHERE i.article_id = $article_id
) AS fe ON fe.article_id = h.article_id AND fe.seen_at <= h.observed_at
WHERE h.article_id IN (SELECT article_id FROM articles WHERE article_id = $article_id)
ORDER BY h.revision;
