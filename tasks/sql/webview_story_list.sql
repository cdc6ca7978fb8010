-- The web view's and the Python API's story list: one row per story, newest change first,
-- a page of $limit rows from $offset. Filters (NULL/false: no filter): $outlet and $language
-- of the latest revision, $since (latest revision observed at or after), $headline_changed
-- (some revision rewrote the title), $ids (a newline-separated list of article ids, e.g. the
-- stories a search found; '' for no filter). `total` counts every story that passes them.
-- The page is chosen in story_summary (one narrow row per story, migration 017); only its
-- rows are then read from revisions, through the article_id index (a list filter).
WITH chosen AS (
    SELECT *
    FROM story_summary
    WHERE ($ids = '' OR article_id IN (SELECT unnest(string_split($ids, chr(10)))))
      AND ($outlet IS NULL OR outlet = $outlet)
      AND ($language IS NULL OR language = $language)
      AND ($since IS NULL OR last_changed_at >= CAST($since AS TIMESTAMPTZ))
      AND (NOT $headline_changed OR headline_changes > 0)
),
page AS MATERIALIZED (
    SELECT * FROM chosen
    ORDER BY last_changed_at DESC, article_id
    LIMIT $limit OFFSET $offset
)
SELECT p.article_id, a.identity, r.title, r.authors, p.outlet, p.language, p.revision,
       p.revisions, p.headline_changes, p.last_changed_at, a.first_seen_at,
       r.words_added, r.words_removed, r.changed_fields, r.update_notes, r.change_reason,
       stated_time_label(r.published_at, r.published_time_known) AS published,
       (SELECT count(*) FROM chosen) AS total
FROM page AS p
JOIN articles AS a ON a.article_id = p.article_id
JOIN revisions_timed AS r ON r.article_id = p.article_id AND r.revision = p.revision
WHERE a.article_id IN (SELECT article_id FROM page)
  AND r.article_id IN (SELECT article_id FROM page)
ORDER BY p.last_changed_at DESC, p.article_id;
