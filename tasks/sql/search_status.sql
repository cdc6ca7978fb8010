-- How far the full-text index is behind the ledger: the analyzer it was built with, the
-- revisions it covers and the revisions stored (revisions are only ever appended, so equal
-- counts mean nothing is new).
SELECT
    (SELECT analyzer FROM search_state WHERE id = 1)                 AS analyzer,
    (SELECT count(*) FROM search_docs)                               AS indexed_revisions,
    (SELECT count(*) FROM revisions)                                 AS revisions,
    (SELECT updated_at FROM search_state WHERE id = 1)               AS updated_at,
    (SELECT count(*) FROM search_runs)                               AS runs,
    (SELECT coalesce(sum(postings), 0) FROM search_runs)             AS postings;
