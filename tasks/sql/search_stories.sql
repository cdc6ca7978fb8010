-- One row per story from search_matches, best first: the story scores as its best-matching
-- revision; the revision shown is the newest one that still contains every term of that best
-- match (so an unchanged story shows its latest revision, and text that was later removed
-- shows the last revision that had it). latest_revision is the story's newest indexed
-- revision: when it is not the one shown, the match is only in older revisions.
WITH best AS (
    SELECT article_id,
           max(score) AS score,
           arg_max(mask, (score, revision)) AS best_mask,
           count(*) AS matching_revisions
    FROM search_matches
    GROUP BY article_id
    ORDER BY score DESC, article_id
    LIMIT $limit
),
shown AS (
    SELECT m.article_id, max(m.revision) AS revision
    FROM search_matches AS m
    JOIN best AS b USING (article_id)
    WHERE m.mask & b.best_mask = b.best_mask
    GROUP BY m.article_id
),
latest AS (
    SELECT article_id, max(revision) AS latest_revision
    FROM search_docs
    WHERE article_id IN (SELECT article_id FROM best)
    GROUP BY article_id
)
SELECT b.article_id, s.revision, l.latest_revision, b.score, b.best_mask AS mask,
       b.matching_revisions
FROM best AS b
JOIN shown AS s USING (article_id)
JOIN latest AS l USING (article_id)
ORDER BY b.score DESC, b.article_id;
