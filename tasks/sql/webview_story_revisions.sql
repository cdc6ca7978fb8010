-- Every revision of one article ($article_id), oldest first, with what the story page shows
-- besides the timeline of article_revisions.sql: byline, update notes, stated times, outlet,
-- language, blocks added/removed/changed, and the text (for the diff). One index lookup
-- instead of one statement per revision.
SELECT revision, observed_at, content_hash, title, authors, outlet, language,
       stated_time_label(published_at, published_time_known) AS published,
       stated_time_label(modified_at, modified_time_known) AS modified,
       dateline, word_count, section_headings, update_notes, lede, text,
       blocks_added, blocks_removed, blocks_changed
FROM revisions_timed
WHERE article_id = $article_id
ORDER BY revision;
