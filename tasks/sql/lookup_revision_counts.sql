-- The revision count of each of $ids as a keyed lookup sees it (the shape of latest_state).
SELECT article_id, count(*) AS revisions
FROM revisions
WHERE article_id IN (SELECT unnest($ids))
GROUP BY ALL;
