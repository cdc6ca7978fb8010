-- What search results show: every revision of the stories found (their ids inlined in place of
-- the marker below, quoted; an IN list of constants is an index lookup, a join is a scan), with
-- the story's identity.
SELECT
    r.article_id,
    r.revision,
    a.identity,
    r.title,
    r.observed_at,
    r.outlet,
    r.text
FROM revisions AS r
JOIN (SELECT article_id, identity FROM articles WHERE article_id IN (/*article_ids*/)) AS a
    USING (article_id)
WHERE r.article_id IN (/*article_ids*/);
