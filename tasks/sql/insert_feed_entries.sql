-- The metadata of the entries one poll read ($rows: JSON list of {feed_url, url, entry_hash,
-- guid, title, published_at, updated_at, authors, summary}), by run $run_id at $now. A row is
-- added only where it differs from the latest version recorded for its feed and URL, so a
-- re-poll of unchanged entries adds nothing.
INSERT INTO feed_entries BY NAME
WITH incoming AS (
    SELECT row.* FROM (
        SELECT unnest(from_json($rows::JSON, '[{"feed_url": "VARCHAR", "url": "VARCHAR",
            "entry_hash": "VARCHAR", "guid": "VARCHAR", "title": "VARCHAR",
            "published_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
            "authors": "VARCHAR[]", "summary": "VARCHAR"}]')) AS row
    )
),
latest AS (
    SELECT feed_url, url, arg_max(entry_hash, feed_entry_id) AS entry_hash
    FROM feed_entries
    WHERE url IN (SELECT url FROM incoming)
    GROUP BY feed_url, url
)
SELECT i.feed_url, i.url, i.entry_hash, i.guid, i.title, i.published_at, i.updated_at,
       coalesce(i.authors, []) AS authors, i.summary, $run_id AS run_id, $now AS seen_at
FROM incoming AS i
LEFT JOIN latest AS l ON l.feed_url = i.feed_url AND l.url = i.url
WHERE l.entry_hash IS DISTINCT FROM i.entry_hash
ORDER BY i.feed_url, i.url;
