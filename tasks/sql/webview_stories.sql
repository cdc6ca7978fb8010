-- The web view's and the Python API's story list: one row per story, newest change first,
-- a page of $limit rows from $offset, read from story_summary alone (one row per story with
-- its latest revision's title, byline and change; migration 017). Filters (NULL/false: no
-- filter): $outlet and $language of the latest revision, $since (latest revision observed at
-- or after), $headline_changed (some revision rewrote the title), $ids (a newline-separated
-- list of article ids, e.g. the stories a search found; '' for no filter). `total` counts
-- every story that passes them.
WITH chosen AS (
    SELECT article_id, last_changed_at
    FROM story_summary
    WHERE ($ids = '' OR article_id IN (SELECT unnest(string_split($ids, chr(10)))))
      AND ($outlet IS NULL OR outlet = $outlet)
      AND ($language IS NULL OR language = $language)
      AND ($since IS NULL OR last_changed_at >= CAST($since AS TIMESTAMPTZ))
      AND (NOT $headline_changed OR headline_changes > 0)
),
page AS MATERIALIZED (  -- the page's keys first: only its 50 rows are then read whole
    SELECT article_id FROM chosen
    ORDER BY last_changed_at DESC, article_id
    LIMIT $limit OFFSET $offset
)
SELECT s.article_id, s.identity, s.title, s.authors, s.outlet, s.language, s.revision,
       s.revisions, s.headline_changes, s.last_changed_at, s.first_seen_at, s.words_added,
       s.words_removed, s.changed_fields, s.update_notes, s.change_reason,
       stated_time_label(s.published_at, s.published_time_known) AS published,
       (SELECT count(*) FROM chosen) AS total
FROM story_summary AS s
WHERE s.article_id IN (SELECT article_id FROM page)
ORDER BY s.last_changed_at DESC, s.article_id;
