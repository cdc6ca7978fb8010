-- The latest revision of every article that one of the given identities ($identities) leads to.
SELECT
    i.identity,
    i.article_id,
    r.revision,
    r.content_hash,
    r.title,
    r.authors,
    r.text,
    r.published_at,
    r.modified_at
FROM article_identities AS i
LEFT JOIN (
    SELECT * FROM revisions
    WHERE article_id IN (
        SELECT article_id FROM article_identities WHERE identity IN (SELECT unnest($identities))
    )
    QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY revision DESC) = 1
) AS r USING (article_id)
WHERE i.identity IN (SELECT unnest($identities));
