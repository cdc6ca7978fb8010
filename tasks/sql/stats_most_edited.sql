-- The $top stories with the most revisions: how many headline changes, the words changed over
-- all edits, when the story says it was published, first and last observation, how long after
-- publication it was last revised (when the publication time of day is known), outlet and
-- latest title.
SELECT
    l.article_id,
    count(*)                                                          AS revisions,
    count(*) FILTER (WHERE list_contains(r.changed_fields, 'title'))  AS headline_changes,
    sum(r.words_added) FILTER (WHERE r.revision > 1)                  AS words_added,
    sum(r.words_removed) FILTER (WHERE r.revision > 1)                AS words_removed,
    any_value(stated_time_label(l.published_at, l.published_time_known)) AS published,
    min(r.observed_at)                                                AS first_observed,
    max(r.observed_at)                                                AS last_revised,
    CASE WHEN any_value(l.published_time_known)
         THEN max(r.observed_at) - any_value(l.published_at) END      AS revised_after_publication,
    any_value(l.outlet)                                               AS outlet,
    any_value(l.title)                                                AS latest_title
FROM latest_revisions AS l
JOIN revisions AS r USING (article_id)
GROUP BY l.article_id
ORDER BY revisions DESC, last_revised DESC
LIMIT $top;
