-- Indexed terms among some stems ($stems, a list: the Porter stems of query words the ledger
-- never contained, computed apart by tasks/search.py:porter_stems, so no extension is needed
-- on the ledger's connection).
SELECT termid, term
FROM search_terms
WHERE term IN (SELECT unnest($stems));
