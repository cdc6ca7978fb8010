-- Set the watch factor and next visit of tracked URLs ($rows: JSON list of
-- {url, watch_factor, next_check_at}).
UPDATE tracked_urls AS t
SET watch_factor = u.watch_factor, next_check_at = u.next_check_at
FROM (
    SELECT row.* FROM (
        SELECT unnest(from_json($rows::JSON, '[{"url": "VARCHAR", "watch_factor": "DOUBLE",
            "next_check_at": "TIMESTAMPTZ"}]')) AS row
    )
) AS u
WHERE t.url = u.url;
