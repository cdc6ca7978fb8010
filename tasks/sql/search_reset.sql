-- Empty the full-text index (before a rebuild with another analyzer).
DELETE FROM search_postings;
DELETE FROM search_runs;
DELETE FROM search_docs;
DELETE FROM search_terms;
DELETE FROM search_words;
DELETE FROM search_stopwords;
DELETE FROM search_state;
