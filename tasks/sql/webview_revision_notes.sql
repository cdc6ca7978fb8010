-- What each revision of one article ($article_id) says besides its text: byline, update notes,
-- outlet, language, and how many blocks it added, removed and changed (oldest first).
SELECT revision, authors, update_notes, outlet, language, blocks_added, blocks_removed,
       blocks_changed
FROM revisions
WHERE article_id = $article_id
ORDER BY revision;
