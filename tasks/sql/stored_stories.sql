-- The stories a run stored ($ids: article ids), as `newsledger ingest` shows them.
SELECT article_id, revision, identity, title, authors, outlet, published_at, modified_at,
       dateline, language, word_count, section_headings, update_notes, lede
FROM latest_revisions
WHERE article_id IN (SELECT unnest($ids))
ORDER BY identity;
