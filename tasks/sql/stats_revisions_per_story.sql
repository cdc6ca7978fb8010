-- How many stories have 1, 2, 3, … revisions.
SELECT revisions, count(*) AS stories,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS percent
FROM (SELECT article_id, count(*) AS revisions FROM revisions GROUP BY article_id)
GROUP BY revisions
ORDER BY revisions;
