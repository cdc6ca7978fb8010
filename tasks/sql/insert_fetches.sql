INSERT INTO fetches BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"run_id": "VARCHAR", "url": "VARCHAR",
        "final_url": "VARCHAR", "purpose": "VARCHAR", "fetched_at": "TIMESTAMPTZ",
        "status": "INTEGER", "raw_hash": "VARCHAR", "headers": "JSON", "etag": "VARCHAR",
        "last_modified": "VARCHAR", "content_type": "VARCHAR", "attempts": "INTEGER",
        "error": "VARCHAR", "warc_file": "VARCHAR", "warc_request_offset": "BIGINT",
        "warc_offset": "BIGINT", "warc_length": "BIGINT", "warc_exchanges": "JSON"}]')) AS row
);
