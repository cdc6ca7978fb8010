-- The fields a new revision is compared with (change sizes, changed fields), for the latest
-- revision of each given article ($article_ids).
SELECT article_id, title, authors, text, published_at, modified_at
FROM revisions
WHERE article_id IN (SELECT unnest($article_ids))
QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY revision DESC) = 1;
