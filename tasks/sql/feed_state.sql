SELECT feed_url, name, etag, last_modified, last_status, last_polled_at, next_poll_at,
       consecutive_failures, last_error, entries_seen
FROM feeds
WHERE feed_url IN (SELECT unnest($urls));
