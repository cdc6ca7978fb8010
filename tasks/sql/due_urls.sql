-- Tracked URLs due for a visit at $now (or all of them when $all), oldest due first. A URL
-- refused by policy waits until the policy changes: $policy is the fingerprint of the current
-- settings; a robots.txt refusal also names the hash of the rules stored for its origin.
SELECT t.url, t.feed_url, t.etag, t.last_modified
FROM tracked_urls t
LEFT JOIN robots_txt r ON r.origin = regexp_extract(t.url, '^[a-z]+://[^/?#]+')
WHERE NOT t.gave_up AND t.alias_of IS NULL AND ($all OR t.next_check_at <= $now)
  AND (t.refused_policy IS NULL
       OR t.refused_policy NOT IN ($policy, $policy || ':' || coalesce(md5(r.body), '-')))
ORDER BY t.next_check_at, t.url
LIMIT $limit;
