INSERT INTO failures BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"run_id": "VARCHAR", "input": "VARCHAR",
        "identity": "VARCHAR", "stage": "VARCHAR", "error": "VARCHAR", "message": "VARCHAR",
        "occurred_at": "TIMESTAMPTZ"}]')) AS row
);
