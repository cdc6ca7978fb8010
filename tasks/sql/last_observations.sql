-- For each given identity ($identities): the raw bytes, extractor and content of its last
-- successful observation, so unchanged sources can skip extraction.
SELECT identity, raw_hash, extractor_version, content_hash
FROM observations
WHERE identity IN (SELECT unnest($identities)) AND outcome <> 'failed'
QUALIFY row_number() OVER (PARTITION BY identity ORDER BY observation_id DESC) = 1;
