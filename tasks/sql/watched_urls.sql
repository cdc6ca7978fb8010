-- The tracked URLs of one article ($article_id) that are still visited (not given up, and not
-- an alias whose canonical URL is visited instead: the same rule as due_urls.sql), with when
-- the story last changed (or appeared) and its latest revision number.
SELECT
    t.url,
    t.watch_factor,
    t.next_check_at,
    coalesce(t.last_changed_at, t.discovered_at) AS since,
    (SELECT max(revision) FROM revisions WHERE article_id = $article_id) AS revision
FROM tracked_urls AS t
LEFT JOIN tracked_urls AS c ON c.url = t.alias_of
WHERE t.article_id = $article_id AND NOT t.gave_up
  AND (t.alias_of IS NULL OR c.url IS NULL OR c.consecutive_failures > 0 OR c.gave_up
       OR c.refused_policy IS NOT NULL)
ORDER BY t.url;
