-- URLs discovered in the given feeds ($feeds) by an earlier poll but never fetched yet (that poll
-- stopped early, or met its page cap): the feed may answer 304 now, so they are fetched from here.
SELECT url, feed_url
FROM tracked_urls
WHERE feed_url IN (SELECT unnest($feeds)) AND last_fetched_at IS NULL AND NOT gave_up
ORDER BY discovered_at, url;
