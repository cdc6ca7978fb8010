-- Newly discovered URLs ($rows: JSON list of {url, feed_url}), recorded with the feed state that
-- announced them, due at once ($now) and not yet fetched. Known URLs are left as they are.
INSERT INTO tracked_urls (url, feed_url, discovered_at, next_check_at)
SELECT row.url, row.feed_url, $now, $now FROM (
    SELECT unnest(from_json($rows::JSON, '[{"url": "VARCHAR", "feed_url": "VARCHAR"}]')) AS row
)
ON CONFLICT (url) DO NOTHING;
