-- For each given input ($inputs: paths or URLs as given): the raw bytes, extractor and content
-- of its last successful observation, with its identity and file signature, so unchanged
-- files can skip extraction (and reading, when their stat signature is the same).
SELECT input, raw_hash, extractor_version, content_hash, identity, file_signature
FROM input_state
WHERE input IN (SELECT unnest($inputs));
