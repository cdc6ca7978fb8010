-- The WARC exchanges of the fetches of a selection (`newsledger export --format warc`): those
-- of one story ($article_id: its identity and every URL tracked for it), of a time range
-- ($since inclusive, $until exclusive), or both; NULL leaves that condition out.
SELECT f.fetch_id, f.fetched_at, f.warc_exchanges
FROM fetches AS f
WHERE f.warc_exchanges IS NOT NULL
  AND ($article_id IS NULL OR f.url IN (
        SELECT url FROM tracked_urls WHERE article_id = $article_id
        UNION SELECT identity FROM articles WHERE article_id = $article_id))
  AND ($since IS NULL OR f.fetched_at >= $since)
  AND ($until IS NULL OR f.fetched_at < $until)
ORDER BY f.fetched_at, f.fetch_id;
