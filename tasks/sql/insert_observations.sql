INSERT INTO observations BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"run_id": "VARCHAR", "article_id": "VARCHAR",
        "identity": "VARCHAR", "input": "VARCHAR", "observed_at": "TIMESTAMPTZ",
        "outcome": "VARCHAR", "revision": "INTEGER", "content_hash": "VARCHAR",
        "raw_hash": "VARCHAR", "extractor_version": "VARCHAR",
        "file_signature": "VARCHAR"}]')) AS row
);
