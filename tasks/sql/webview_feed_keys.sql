-- The newest $limit revisions for a feed: (article_id, revision), newest first. Filters
-- (NULL / '': none): $outlet (of the revision), $article_id, $ids (newline-separated article
-- ids, e.g. what a search found). webview_feed.sql then reads their texts.
SELECT article_id, revision
FROM revisions
WHERE ($outlet IS NULL OR outlet = $outlet)
  AND ($article_id IS NULL OR article_id = $article_id)
  AND ($ids = '' OR article_id IN (SELECT unnest(string_split($ids, chr(10)))))
ORDER BY observed_at DESC, article_id, revision DESC
LIMIT $limit;
