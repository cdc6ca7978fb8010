-- The story_summary rows (migration 017) that the revisions say: one per story, its latest
-- revision and the latest revision's shown columns. tasks/store.py:story_summary_statement
-- puts it into refresh_story_summary.sql (the stories $article_ids only: the markers become
-- list filters, which DuckDB reads through the article_id index, not a join) and into
-- rebuild_story_summary.sql (every story: the markers are removed).
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
/*revisions_of_stories*/
GROUP BY article_id
) AS s
JOIN articles AS a ON a.article_id = s.article_id
/*articles_of_stories*/
