-- For each given input ($inputs: paths or URLs as given): the raw bytes, extractor and content
-- of its last successful observation, so unchanged files can skip extraction.
SELECT input, raw_hash, extractor_version, content_hash
FROM observations
WHERE input IN (SELECT unnest($inputs)) AND outcome <> 'failed'
QUALIFY row_number() OVER (PARTITION BY input ORDER BY observation_id DESC) = 1;
