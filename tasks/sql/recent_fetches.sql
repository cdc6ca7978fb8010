-- The URLs fetched since $since, with the time of their last fetch: the per-host politeness
-- delay of the next Fetcher counts from there (a feed fetched just before its pages).
SELECT url, max(fetched_at) AS fetched_at
FROM fetches
WHERE fetched_at >= $since
GROUP BY url;
