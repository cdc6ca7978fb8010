-- After a batch's $count observations are inserted by one INSERT (same transaction, the file
-- lock keeps the sequence ours: their ids are the last $count): the latest successful
-- observation of each of its inputs.
INSERT INTO input_state
SELECT * FROM latest_input_observations(currval('observation_id_seq') - $count + 1)
ON CONFLICT (input) DO UPDATE SET
    observation_id = excluded.observation_id, identity = excluded.identity,
    raw_hash = excluded.raw_hash, extractor_version = excluded.extractor_version,
    content_hash = excluded.content_hash, file_signature = excluded.file_signature;
