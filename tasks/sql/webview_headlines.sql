-- Rewritten headlines, newest first ($outlet: of the new revision, NULL for all), a page of
-- $limit from $offset; `total` counts them all.
SELECT h.article_id, h.identity, h.old_revision, h.new_revision, h.old_observed_at,
       h.changed_at, h.old_title, h.new_title, r.outlet, count(*) OVER () AS total
FROM headline_changes AS h
JOIN revisions AS r ON r.article_id = h.article_id AND r.revision = h.new_revision
WHERE $outlet IS NULL OR r.outlet = $outlet
ORDER BY h.changed_at DESC, h.article_id
LIMIT $limit OFFSET $offset;
