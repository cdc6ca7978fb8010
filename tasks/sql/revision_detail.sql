-- One revision of one article, with the fields a diff shows.
SELECT revision, observed_at, content_hash, title, authors, published_at, modified_at, text
FROM revisions
WHERE article_id = $article_id AND revision = $revision;
