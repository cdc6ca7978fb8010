-- Every revision of the given articles ($ids: a list of article ids), each with the revision
-- before it (for its diff). A filter on a list of ids, not a join: DuckDB then reads the
-- article_id index instead of every revision's text (bench_webview.py: ~10 ms against
-- ~400 ms for a join on 30,000 revisions).
SELECT r.article_id, a.identity, r.revision, r.observed_at, r.title, r.authors, r.outlet,
       r.text, r.update_notes, r.changed_fields, r.words_added, r.words_removed,
       r.change_reason,
       lag(r.revision) OVER w AS previous_revision,
       lag(r.title) OVER w AS previous_title,
       lag(r.authors) OVER w AS previous_authors,
       lag(r.text) OVER w AS previous_text
FROM revisions AS r
JOIN articles AS a ON a.article_id = r.article_id
WHERE r.article_id IN (SELECT unnest($ids))
  AND a.article_id IN (SELECT unnest($ids))
WINDOW w AS (PARTITION BY r.article_id ORDER BY r.revision);
