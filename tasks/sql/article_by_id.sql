-- The article whose id is exactly $article_id (a primary-key lookup), if any.
SELECT article_id, identity FROM articles WHERE article_id = $article_id;
