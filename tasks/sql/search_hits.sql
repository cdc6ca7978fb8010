-- BM25 (as the fts extension's match_bm25: k = 1.2, b = 0.75, log base 10) of every indexed
-- revision that contains one of the query's terms. The term ids are inlined in place of the
-- markers below (integers only): the postings scan is then an IN filter that zonemaps prune
-- (each run is sorted by term), and each term has a bit of `mask` (which terms a revision
-- has). Revisions observed before $since (NULL: any) are left out after scoring, so document
-- frequencies stay those of the whole ledger.
CREATE OR REPLACE TEMP TABLE search_matches AS
WITH hits AS (
    SELECT termid, doc_id, tf
    FROM search_postings
    WHERE termid IN (/*termids*/)
),
bits AS (SELECT * FROM (VALUES /*termbits*/) AS b(termid, bit)),
df AS (SELECT termid, count(*) AS df FROM hits GROUP BY termid),
stats AS (SELECT count(*) AS n, avg(len) AS avgdl FROM search_docs),
scored AS (
    SELECT h.doc_id,
           sum(log((stats.n - df.df + 0.5) / (df.df + 0.5) + 1)
               * h.tf * (1.2 + 1) / (h.tf + 1.2 * (1 - 0.75 + 0.75 * d.len / stats.avgdl)))
               AS score,
           bit_or(CAST(1 AS UBIGINT) << bits.bit) AS mask,
           any_value(d.article_id) AS article_id,
           any_value(d.revision) AS revision,
           any_value(d.observed_at) AS observed_at
    FROM hits AS h
    JOIN df USING (termid)
    JOIN bits USING (termid)
    JOIN search_docs AS d USING (doc_id)
    CROSS JOIN stats
    GROUP BY h.doc_id
)
SELECT article_id, revision, observed_at, score, mask
FROM scored
WHERE $since IS NULL OR observed_at >= $since;
