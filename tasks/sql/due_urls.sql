-- Tracked URLs due for a visit at $now (or all of them when $all), oldest due first. A URL
-- refused by policy waits until the policy changes: $policy is the fingerprint of the current
-- settings; a robots.txt refusal also names the hash of the rules stored for its origin.
-- An alias (a page naming another canonical URL) is left to its canonical URL while that one
-- answers or has not been asked yet; while it fails (failing, given up, refused) the alias is
-- visited itself (the same rule as watched_urls.sql).
SELECT t.url, t.feed_url, t.etag, t.last_modified
FROM tracked_urls t
LEFT JOIN tracked_urls c ON c.url = t.alias_of
LEFT JOIN robots_txt r ON r.origin = regexp_extract(t.url, '^[a-z]+://[^/?#]+')
WHERE NOT t.gave_up
  AND (t.alias_of IS NULL OR c.url IS NULL OR c.consecutive_failures > 0 OR c.gave_up
       OR c.refused_policy IS NOT NULL)
  AND ($all OR t.next_check_at <= $now)
  AND (t.refused_policy IS NULL
       OR t.refused_policy NOT IN ($policy, $policy || ':' || coalesce(md5(r.body), '-')))
ORDER BY t.next_check_at, t.url
LIMIT $limit;
