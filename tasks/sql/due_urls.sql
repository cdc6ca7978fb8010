-- Tracked URLs due for a visit at $now (or all of them when $all), oldest due first.
SELECT url, feed_url, etag, last_modified
FROM tracked_urls
WHERE NOT gave_up AND alias_of IS NULL AND ($all OR next_check_at <= $now)
ORDER BY next_check_at, url
LIMIT $limit;
