-- What the feeds said of one story ($article_id; NULL: of every story), oldest first.
SELECT *
FROM feed_entry_metadata
WHERE $article_id IS NULL OR article_id = $article_id
ORDER BY seen_at, feed_url, feed_entry_id;
