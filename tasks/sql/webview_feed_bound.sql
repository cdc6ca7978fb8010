-- A lower bound for webview_feed_keys.sql: the last change of the $limit-th most recently
-- changed story (of $outlet, as its latest revision says; NULL: all), from story_summary.
-- Only a guess that usually holds the newest $limit revisions; the caller checks it.
SELECT min(last_changed_at) AS since
FROM (
    SELECT last_changed_at
    FROM story_summary
    WHERE $outlet IS NULL OR outlet = $outlet
    ORDER BY last_changed_at DESC
    LIMIT $limit
);
