-- The newest $limit revisions for a feed: (article_id, revision), newest first. $outlet (of
-- the revision; NULL: every outlet). $since (NULL: none) bounds observed_at from below so that
-- DuckDB skips older row groups by their statistics (revisions are appended roughly in time
-- order, so a Top-N alone reads them all, oldest first): the caller takes the bound from
-- story_summary and, when fewer than $limit rows come back, asks again without it, so the
-- result is always that of the unbounded query. webview_feed.sql then reads their texts.
SELECT article_id, revision
FROM revisions
WHERE ($outlet IS NULL OR outlet = $outlet)
  AND ($since IS NULL OR observed_at >= $since)
ORDER BY observed_at DESC, article_id, revision DESC
LIMIT $limit;
