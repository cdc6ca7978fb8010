-- The rows of a page of the story list (webview_story_page.sql): the stories $ids (a list),
-- newest change first, each with its latest revision's title, byline and change, and $total
-- (the page query's count) as `total`. The revisions are read first, on their own, through
-- a list filter: DuckDB then reads the article_id index (joined to story_summary instead, it
-- scanned all 300,000 revisions).
WITH latest AS MATERIALIZED (
    SELECT r.article_id, r.revision, a.identity, a.first_seen_at, r.title, r.authors,
           r.words_added, r.words_removed, r.changed_fields, r.update_notes, r.change_reason,
           stated_time_label(r.published_at, r.published_time_known) AS published
    FROM revisions_timed AS r
    JOIN articles AS a ON a.article_id = r.article_id
    WHERE r.article_id IN (SELECT unnest($ids))
      AND a.article_id IN (SELECT unnest($ids))
)
SELECT s.article_id, l.identity, l.title, l.authors, s.outlet, s.language, s.revision,
       s.revisions, s.headline_changes, s.last_changed_at, l.first_seen_at,
       l.words_added, l.words_removed, l.changed_fields, l.update_notes, l.change_reason,
       l.published, CAST($total AS BIGINT) AS total
FROM latest AS l
JOIN story_summary AS s ON s.article_id = l.article_id AND s.revision = l.revision
WHERE s.article_id IN (SELECT unnest($ids))
ORDER BY s.last_changed_at DESC, s.article_id;
