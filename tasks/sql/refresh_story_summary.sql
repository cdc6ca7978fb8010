-- Bring the story_summary rows (migration 017) of the stories $article_ids (a list: those a
-- batch just wrote revisions of) up to date from their revisions, in the batch's transaction.
-- Recomputed from the revisions, not incremented, so a repeated run leaves the same rows. A
-- list filter, not a join: DuckDB reads the article_id index for it.
INSERT INTO story_summary
SELECT s.*, a.identity, a.first_seen_at
FROM (
SELECT article_id,
       max(revision)                                                    AS revision,
       count(*)                                                         AS revisions,
       max(observed_at)                                                 AS last_changed_at,
       arg_max(outlet, revision)                                        AS outlet,
       arg_max(language, revision)                                      AS language,
       count(*) FILTER (WHERE list_contains(changed_fields, 'title'))   AS headline_changes,
       arg_max_null(title, revision)                                       AS title,
       arg_max_null(authors, revision)                                     AS authors,
       arg_max_null(words_added, revision)                                 AS words_added,
       arg_max_null(words_removed, revision)                               AS words_removed,
       arg_max_null(changed_fields, revision)                              AS changed_fields,
       arg_max_null(update_notes, revision)                                AS update_notes,
       arg_max_null(change_reason, revision)                               AS change_reason,
       arg_max_null(published_at, revision)                                AS published_at,
       arg_max_null(published_time_known, revision)                        AS published_time_known
FROM revisions_timed
WHERE article_id IN (SELECT unnest($article_ids))
GROUP BY article_id
) AS s
JOIN articles AS a ON a.article_id = s.article_id
WHERE a.article_id IN (SELECT unnest($article_ids))
ON CONFLICT (article_id) DO UPDATE SET
    revision = excluded.revision,
    revisions = excluded.revisions,
    last_changed_at = excluded.last_changed_at,
    outlet = excluded.outlet,
    language = excluded.language,
    headline_changes = excluded.headline_changes,
    title = excluded.title,
    authors = excluded.authors,
    words_added = excluded.words_added,
    words_removed = excluded.words_removed,
    changed_fields = excluded.changed_fields,
    update_notes = excluded.update_notes,
    change_reason = excluded.change_reason,
    published_at = excluded.published_at,
    published_time_known = excluded.published_time_known,
    identity = excluded.identity,
    first_seen_at = excluded.first_seen_at;
