INSERT INTO article_identities BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"identity": "VARCHAR", "article_id": "VARCHAR",
        "added_at": "TIMESTAMPTZ"}]')) AS row
)
ON CONFLICT DO NOTHING;
