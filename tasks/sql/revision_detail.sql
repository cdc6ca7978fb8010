-- One revision of one article, with the fields a diff shows (times as stated_time_label).
SELECT revision, observed_at, content_hash, title, authors,
       stated_time_label(published_at, published_time_known) AS published,
       stated_time_label(modified_at, modified_time_known) AS modified,
       text
FROM revisions_timed
WHERE article_id = $article_id AND revision = $revision;
