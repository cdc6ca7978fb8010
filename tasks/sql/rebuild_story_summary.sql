-- story_summary (migration 017) built again from every revision: for a ledger whose revisions
-- were written by something other than the batch write (the benchmarks' generated ledgers).
DELETE FROM story_summary;
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
GROUP BY article_id
) AS s
JOIN articles AS a ON a.article_id = s.article_id;
