INSERT INTO feeds BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"feed_url": "VARCHAR", "name": "VARCHAR",
        "etag": "VARCHAR", "last_modified": "VARCHAR", "last_status": "INTEGER",
        "last_polled_at": "TIMESTAMPTZ", "next_poll_at": "TIMESTAMPTZ",
        "consecutive_failures": "INTEGER", "last_error": "VARCHAR",
        "entries_seen": "INTEGER"}]')) AS row
)
ON CONFLICT (feed_url) DO UPDATE SET
    name = excluded.name, etag = excluded.etag, last_modified = excluded.last_modified,
    last_status = excluded.last_status, last_polled_at = excluded.last_polled_at,
    next_poll_at = excluded.next_poll_at, consecutive_failures = excluded.consecutive_failures,
    last_error = excluded.last_error, entries_seen = excluded.entries_seen;
