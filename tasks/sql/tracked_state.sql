-- Crawl state of the given URLs ($urls).
SELECT url, article_id, feed_url, discovered_at, etag, last_modified, last_status,
       last_fetched_at, last_changed_at, next_check_at, consecutive_failures, last_error,
       gave_up, watch_factor, alias_of, refused_policy
FROM tracked_urls
WHERE url IN (SELECT unnest($urls));
