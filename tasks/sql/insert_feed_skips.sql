-- Feed entries skipped by one poll ($rows: JSON list of {feed_url, entry, reason, message}).
INSERT INTO feed_skips (run_id, feed_url, entry, reason, message, recorded_at)
SELECT $run_id, row.feed_url, row.entry, row.reason, row.message, $now FROM (
    SELECT unnest(from_json(
        $rows::JSON,
        '[{"feed_url": "VARCHAR", "entry": "VARCHAR", "reason": "VARCHAR", "message": "VARCHAR"}]'
    )) AS row
);
