-- Store one chunk: new terms get the next ids, new word forms point to their term, every
-- revision becomes a document (its length in terms), and the chunk's postings are appended as
-- one run sorted by term ($run_id).
INSERT INTO search_terms
SELECT (SELECT coalesce(max(termid), 0) FROM search_terms) + row_number() OVER (ORDER BY term),
       term
FROM (
    SELECT DISTINCT term FROM search_chunk_stems
    WHERE term NOT IN (SELECT term FROM search_terms)
);

INSERT INTO search_words
SELECT s.w, t.termid
FROM search_chunk_stems AS s
JOIN (
    SELECT termid, term FROM search_terms
    WHERE term IN (SELECT term FROM search_chunk_stems)
) AS t USING (term)
WHERE s.w NOT IN (SELECT word FROM search_words);

INSERT INTO search_docs
SELECT c.doc_id, c.article_id, c.revision, c.observed_at, coalesce(n.len, 0)
FROM search_chunk AS c
LEFT JOIN (SELECT doc_id, sum(tf) AS len FROM search_chunk_words GROUP BY doc_id) AS n
    USING (doc_id);

INSERT INTO search_postings
SELECT t.termid, w.doc_id, sum(w.tf)::INTEGER AS tf, $run_id
FROM search_chunk_words AS w
JOIN search_chunk_stems AS s USING (w)
JOIN (
    SELECT termid, term FROM search_terms
    WHERE term IN (SELECT term FROM search_chunk_stems)
) AS t USING (term)
GROUP BY t.termid, w.doc_id
ORDER BY t.termid, w.doc_id;

INSERT INTO search_runs
SELECT $run_id, 0, count(*), $now FROM search_postings WHERE run_id = $run_id;
