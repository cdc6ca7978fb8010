-- The last successful observation of every web story whose raw body is archived, when it was
-- extracted by another extractor version than $version (or every one when $all).
SELECT identity, input, raw_hash, extractor_version
FROM (
    SELECT o.identity, o.input, o.raw_hash, o.extractor_version
    FROM observations AS o
    JOIN articles AS a USING (article_id)
    WHERE o.outcome <> 'failed' AND a.source_kind = 'url'
    QUALIFY row_number() OVER (PARTITION BY o.identity ORDER BY o.observation_id DESC) = 1
) AS last
WHERE raw_hash IN (SELECT raw_hash FROM raw_pages)
  AND ($all OR extractor_version IS DISTINCT FROM $version)
ORDER BY identity;
