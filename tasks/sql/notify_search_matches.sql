-- Which watched queries ($queries) each stored revision ($article_ids[i], $revisions[i])
-- matches: its title and text contain every term of the query. Words are tokenized as the
-- search index tokenizes them (search_tokenize), the query's stop words ($stopwords) are left
-- out, and both sides are Porter-stemmed (needs the fts extension loaded, for stem).
WITH wanted AS (
    SELECT unnest($article_ids) AS article_id, unnest($revisions) AS revision
),
docs AS (
    SELECT r.article_id, coalesce(r.title, '') || ' ' || coalesce(r.text, '') AS body
    FROM revisions AS r
    JOIN wanted AS w ON r.article_id = w.article_id AND r.revision = w.revision
),
doc_terms AS (
    SELECT DISTINCT article_id, stem(word, 'porter') AS term
    FROM (SELECT article_id, unnest(search_tokenize(body)) AS word FROM docs)
    WHERE word <> ''
),
query_terms AS (
    SELECT DISTINCT query, stem(word, 'porter') AS term
    FROM (SELECT query, unnest(search_tokenize(query)) AS word
          FROM (SELECT unnest($queries) AS query))
    WHERE word <> '' AND NOT list_contains($stopwords, word)
),
term_counts AS (
    SELECT query, count(*) AS terms FROM query_terms GROUP BY query
)
SELECT d.article_id, q.query
FROM doc_terms AS d
JOIN query_terms AS q USING (term)
GROUP BY d.article_id, q.query
HAVING count(*) = (SELECT terms FROM term_counts AS c WHERE c.query = q.query)
ORDER BY d.article_id, q.query;
