-- Bring the story_summary rows of the stories $article_ids (a list: those a batch just wrote
-- revisions of) up to date from their revisions, in the batch's transaction. Recomputed from
-- the revisions, not incremented, so a repeated run leaves the same rows. A list filter, not
-- a join: DuckDB reads the article_id index for it.
INSERT INTO story_summary
SELECT article_id,
       max(revision),
       count(*),
       max(observed_at),
       arg_max(outlet, revision),
       arg_max(language, revision),
       count(*) FILTER (WHERE list_contains(changed_fields, 'title'))
FROM revisions
WHERE article_id IN (SELECT unnest($article_ids))
GROUP BY article_id
ON CONFLICT (article_id) DO UPDATE SET
    revision = excluded.revision,
    revisions = excluded.revisions,
    last_changed_at = excluded.last_changed_at,
    outlet = excluded.outlet,
    language = excluded.language,
    headline_changes = excluded.headline_changes;
