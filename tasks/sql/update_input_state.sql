-- After a batch's observations are inserted (same transaction; their ids start at $first_id):
-- the latest successful observation of each of its inputs.
INSERT INTO input_state
SELECT input, o.observation_id, o.identity, o.raw_hash, o.extractor_version, o.content_hash,
       o.file_signature
FROM (
    SELECT input, arg_max(o, observation_id) AS o
    FROM observations AS o
    WHERE observation_id >= $first_id AND outcome <> 'failed'
    GROUP BY input
)
ON CONFLICT (input) DO UPDATE SET
    observation_id = excluded.observation_id, identity = excluded.identity,
    raw_hash = excluded.raw_hash, extractor_version = excluded.extractor_version,
    content_hash = excluded.content_hash, file_signature = excluded.file_signature;
