-- After a batch's observations are inserted (same transaction; their ids start at $first_id):
-- the latest successful observation of each of its inputs.
INSERT INTO input_state
SELECT * FROM latest_input_observations($first_id)
ON CONFLICT (input) DO UPDATE SET
    observation_id = excluded.observation_id, identity = excluded.identity,
    raw_hash = excluded.raw_hash, extractor_version = excluded.extractor_version,
    content_hash = excluded.content_hash, file_signature = excluded.file_signature;
