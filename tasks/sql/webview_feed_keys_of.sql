-- The newest $limit revisions of the stories $ids (a list: one story, or what a search found;
-- of $outlet only, unless NULL), (article_id, revision), newest first. A list filter: DuckDB
-- reads the article_id index.
SELECT article_id, revision
FROM revisions
WHERE article_id IN (SELECT unnest($ids))
  AND ($outlet IS NULL OR outlet = $outlet)
ORDER BY observed_at DESC, article_id, revision DESC
LIMIT $limit;
