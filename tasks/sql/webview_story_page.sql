-- A page of the story list: the stories (article_id) newest change first, $limit from
-- $offset, from story_summary (one narrow row per story, migration 017), and `total`: how
-- many stories pass the filters. Filters (NULL/false: no filter): $outlet and $language of
-- the latest revision, $since (latest revision observed at or after), $headline_changed (some
-- revision rewrote the title), $ids (a newline-separated list of article ids, e.g. the
-- stories a search found; '' for no filter). webview_stories.sql then reads their rows.
WITH chosen AS (
    SELECT article_id, last_changed_at
    FROM story_summary
    WHERE ($ids = '' OR article_id IN (SELECT unnest(string_split($ids, chr(10)))))
      AND ($outlet IS NULL OR outlet = $outlet)
      AND ($language IS NULL OR language = $language)
      AND ($since IS NULL OR last_changed_at >= CAST($since AS TIMESTAMPTZ))
      AND (NOT $headline_changed OR headline_changes > 0)
)
SELECT article_id, (SELECT count(*) FROM chosen) AS total
FROM chosen
ORDER BY last_changed_at DESC, article_id
LIMIT $limit OFFSET $offset;
