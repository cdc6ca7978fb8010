-- The newest $limit revisions for a feed, each with the revision before it (for its diff).
-- Filters (NULL / '': none): $outlet (of the revision), $article_id, $ids (newline-separated
-- article ids, e.g. what a search found).
WITH k AS (
    SELECT article_id, revision, observed_at
    FROM revisions
    WHERE ($outlet IS NULL OR outlet = $outlet)
      AND ($article_id IS NULL OR article_id = $article_id)
      AND ($ids = '' OR article_id IN (SELECT unnest(string_split($ids, chr(10)))))
    ORDER BY observed_at DESC, article_id, revision DESC
    LIMIT $limit
)
SELECT r.article_id, a.identity, r.revision, r.observed_at, r.title, r.authors, r.outlet,
       r.text, r.update_notes, r.changed_fields, r.words_added, r.words_removed,
       r.change_reason, p.revision AS previous_revision, p.title AS previous_title,
       p.authors AS previous_authors, p.text AS previous_text
FROM k
JOIN revisions AS r USING (article_id, revision)
JOIN articles AS a USING (article_id)
LEFT JOIN revisions AS p ON p.article_id = r.article_id AND p.revision = r.revision - 1
ORDER BY k.observed_at DESC, k.article_id, k.revision DESC;
