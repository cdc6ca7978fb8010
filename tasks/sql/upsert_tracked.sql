INSERT INTO tracked_urls BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"url": "VARCHAR", "article_id": "VARCHAR",
        "feed_url": "VARCHAR", "discovered_at": "TIMESTAMPTZ", "etag": "VARCHAR",
        "last_modified": "VARCHAR", "last_status": "INTEGER", "last_fetched_at": "TIMESTAMPTZ",
        "last_changed_at": "TIMESTAMPTZ", "next_check_at": "TIMESTAMPTZ",
        "consecutive_failures": "INTEGER", "last_error": "VARCHAR", "gave_up": "BOOLEAN",
        "watch_factor": "DOUBLE", "alias_of": "VARCHAR",
        "refused_policy": "VARCHAR"}]')) AS row
)
ON CONFLICT (url) DO UPDATE SET
    article_id = excluded.article_id, feed_url = excluded.feed_url, etag = excluded.etag,
    last_modified = excluded.last_modified, last_status = excluded.last_status,
    last_fetched_at = excluded.last_fetched_at, last_changed_at = excluded.last_changed_at,
    next_check_at = excluded.next_check_at, consecutive_failures = excluded.consecutive_failures,
    last_error = excluded.last_error, gave_up = excluded.gave_up,
    watch_factor = excluded.watch_factor, alias_of = excluded.alias_of,
    refused_policy = excluded.refused_policy;
