-- Indexed terms that the Porter stems of some words ($words, joined by newlines) are; needs
-- the fts extension loaded (for stem). For query words the ledger never contained.
SELECT termid, term
FROM search_terms
WHERE term IN (SELECT stem(unnest(string_split($words, chr(10))), 'porter'));
