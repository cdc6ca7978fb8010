-- The fields a new revision is compared with (the story hash, change sizes, changed fields,
-- why it changed), for the latest revision of each given article ($article_ids).
SELECT article_id, title, authors, text, published_at, modified_at, published_timestamp,
       modified_timestamp, coalesce(published_time_known, false) AS published_time_known,
       coalesce(modified_time_known, false) AS modified_time_known, raw_hash,
       extractor_version, story_hash
FROM revisions
WHERE article_id IN (SELECT unnest($article_ids))
QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY revision DESC) = 1;
