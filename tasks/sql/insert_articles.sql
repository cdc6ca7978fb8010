INSERT INTO articles BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"article_id": "VARCHAR", "identity": "VARCHAR",
        "source_kind": "VARCHAR", "first_source": "VARCHAR", "first_seen_at": "TIMESTAMPTZ"}]')) AS row
)
ON CONFLICT DO NOTHING;
