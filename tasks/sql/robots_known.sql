-- robots.txt of the given origins ($origins) fetched after $fresh_after (still fresh).
SELECT origin, status, body, fetched_at
FROM robots_txt
WHERE origin IN (SELECT unnest($origins)) AND fetched_at > $fresh_after;
