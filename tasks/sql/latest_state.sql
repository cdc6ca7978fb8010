-- For the given identities ($identities): the article each leads to and the number and content
-- hash of its latest revision (NULLs for an article without revisions).
SELECT
    i.identity,
    i.article_id,
    r.revision,
    r.content_hash
FROM article_identities AS i
LEFT JOIN (
    SELECT article_id, max(revision) AS revision, arg_max(content_hash, revision) AS content_hash
    FROM revisions
    WHERE article_id IN (
        SELECT article_id FROM article_identities WHERE identity IN (SELECT unnest($identities))
    )
    GROUP BY article_id
) AS r USING (article_id)
WHERE i.identity IN (SELECT unnest($identities));
