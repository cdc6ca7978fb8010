-- Store robots.txt fetched now ($rows: JSON list), replacing what an origin had.
INSERT INTO robots_txt BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"origin": "VARCHAR", "status": "INTEGER",
        "body": "VARCHAR", "fetched_at": "TIMESTAMPTZ"}]')) AS row
)
ON CONFLICT (origin) DO UPDATE SET
    status = excluded.status, body = excluded.body, fetched_at = excluded.fetched_at;
