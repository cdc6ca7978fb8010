-- Articles that a user's reference may mean: an id, an id prefix, an identity, a URL, or a path
-- the story was read from ($path_forms: the reference as given and resolved; $relative_forms:
-- every tail of the path, to match "file:<relative path>" identities).
SELECT DISTINCT a.article_id, a.identity
FROM articles AS a
LEFT JOIN article_identities AS i USING (article_id)
WHERE a.article_id = $ref
   OR (length($ref) >= 6 AND a.article_id LIKE $ref || '%')
   OR i.identity = $ref
   OR i.identity = $url
   OR i.identity IN (SELECT 'file:' || unnest($relative_forms))
   OR a.article_id IN (SELECT article_id FROM revisions WHERE source IN (SELECT unnest($path_forms)))
ORDER BY a.identity;
