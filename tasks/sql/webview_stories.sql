-- The web view's and the Python API's story list: one row per story, newest change first,
-- a page of $limit rows from $offset. Filters (NULL/false: no filter): $outlet and $language
-- of the latest revision, $since (latest revision observed at or after), $headline_changed
-- (some revision rewrote the title), $ids (a newline-separated list of article ids, e.g. the
-- stories a search found; '' for no filter). `total` counts every story that passes them.
WITH s AS (
    SELECT article_id,
           max(revision)                                                    AS revision,
           count(*)                                                         AS revisions,
           max(observed_at)                                                 AS last_changed_at,
           arg_max(outlet, revision)                                        AS outlet,
           arg_max(language, revision)                                      AS language,
           count(*) FILTER (WHERE list_contains(changed_fields, 'title'))   AS headline_changes
    FROM revisions
    WHERE $ids = '' OR article_id IN (SELECT unnest(string_split($ids, chr(10))))
    GROUP BY article_id
),
page AS (
    SELECT *, count(*) OVER () AS total
    FROM s
    WHERE ($outlet IS NULL OR outlet = $outlet)
      AND ($language IS NULL OR language = $language)
      AND ($since IS NULL OR last_changed_at >= CAST($since AS TIMESTAMPTZ))
      AND (NOT $headline_changed OR headline_changes > 0)
    ORDER BY last_changed_at DESC, article_id
    LIMIT $limit OFFSET $offset
)
SELECT p.article_id, a.identity, r.title, r.authors, p.outlet, p.language, p.revision,
       p.revisions, p.headline_changes, p.last_changed_at, a.first_seen_at,
       r.words_added, r.words_removed, r.changed_fields, r.update_notes, r.change_reason,
       stated_time_label(r.published_at, r.published_time_known) AS published, p.total
FROM page AS p
JOIN articles AS a USING (article_id)
JOIN revisions_timed AS r USING (article_id, revision)
ORDER BY p.last_changed_at DESC, p.article_id;
