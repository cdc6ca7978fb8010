-- Every revision of one article ($article_id), oldest first, with how often it was seen.
SELECT
    r.revision,
    r.observed_at,
    r.content_hash,
    r.title,
    r.word_count,
    r.words_added,
    r.words_removed,
    r.changed_fields,
    r.extractor_version,
    r.source,
    (SELECT count(*) FROM observations AS o
      WHERE o.article_id = r.article_id AND o.revision = r.revision) AS times_seen
FROM revisions AS r
WHERE r.article_id = $article_id
ORDER BY r.revision;
