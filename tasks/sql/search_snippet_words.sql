-- Which of some words ($words, joined by newlines, as they appear in a text) contain a form of
-- one of the query's terms (ids inlined in place of the marker below).
SELECT DISTINCT t.word
FROM (
    SELECT word, unnest(search_tokenize(word)) AS token
    FROM (SELECT unnest(string_split($words, chr(10))) AS word)
) AS t
JOIN search_words AS w ON w.word = t.token
WHERE w.termid IN (/*termids*/);
