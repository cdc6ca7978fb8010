-- The stored robots.txt rules of the given origins ($origins), fresh or not.
SELECT origin, body FROM robots_txt WHERE origin IN (SELECT unnest($origins));
