-- Tracked URLs whose last visit failed and that were not given up.
SELECT url, feed_url, etag, last_modified
FROM tracked_urls
WHERE consecutive_failures > 0 AND NOT gave_up
ORDER BY url;
