-- The search terms of a query ($query): its words as the search index tokenizes them, stop
-- words ($stopwords) left out (a search watch needs at least one).
SELECT DISTINCT word
FROM (SELECT unnest(search_tokenize($query)) AS word)
WHERE word <> '' AND NOT list_contains($stopwords, word)
ORDER BY word;
