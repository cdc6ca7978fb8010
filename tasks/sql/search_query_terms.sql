-- The words of a query ($query), tokenized like the documents, each with the id and stem of
-- the indexed term it is a form of (NULL when the ledger never contained that word form).
SELECT q.word, w.termid, t.term
FROM (SELECT DISTINCT unnest(search_tokenize($query)) AS word) AS q
LEFT JOIN search_words AS w USING (word)
LEFT JOIN search_terms AS t USING (termid)
WHERE q.word <> ''
ORDER BY q.word;
