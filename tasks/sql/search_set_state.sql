-- Record what the full-text index now covers.
INSERT OR REPLACE INTO search_state
SELECT 1, $analyzer, (SELECT count(*) FROM search_docs), $now;
