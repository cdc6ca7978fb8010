-- Every revision of one article ($article_id), oldest first, with how often it was seen, the
-- publication time it stated and why it was made.
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
    (SELECT count(*) FROM observations AS o
      WHERE o.article_id = h.article_id AND o.revision = h.revision) AS times_seen,
    stated_time_label(t.published_at, t.published_time_known) AS published,
    t.change_reason
FROM article_history AS h
JOIN revisions_timed AS t USING (article_id, revision)
WHERE h.article_id = $article_id
ORDER BY h.revision;
