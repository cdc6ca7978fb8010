-- One row per matching revision from search_matches, best first (ties: newest first), with the
-- story's latest indexed revision and how many of its revisions match.
WITH top AS (
    SELECT article_id, revision, score, mask
    FROM search_matches
    ORDER BY score DESC, article_id, revision DESC
    LIMIT $limit
),
latest AS (
    SELECT article_id, max(revision) AS latest_revision
    FROM search_docs
    WHERE article_id IN (SELECT article_id FROM top)
    GROUP BY article_id
),
matching AS (
    SELECT article_id, count(*) AS matching_revisions
    FROM search_matches
    WHERE article_id IN (SELECT article_id FROM top)
    GROUP BY article_id
)
SELECT t.article_id, t.revision, l.latest_revision, t.score, t.mask, m.matching_revisions
FROM top AS t
JOIN latest AS l USING (article_id)
JOIN matching AS m USING (article_id)
ORDER BY t.score DESC, t.article_id, t.revision DESC;
