-- The stories a run stored ($ids: article ids), as `newsledger ingest` shows them.
SELECT article_id, revision, identity, title, authors, outlet,
       stated_time_label(published_at, published_time_known) AS published,
       stated_time_label(modified_at, modified_time_known) AS modified,
       dateline, language, word_count, section_headings, update_notes, lede
FROM latest_revisions
WHERE article_id IN (SELECT unnest($ids))
ORDER BY identity;
