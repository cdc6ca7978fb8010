-- Tokens of the chunk, as the fts extension makes them: its tokenizer, empty tokens and its
-- stop words (compared before stemming) dropped; then each distinct word's Porter stem.
CREATE OR REPLACE TEMP TABLE search_chunk_words AS
SELECT doc_id, w
FROM (SELECT doc_id, unnest(search_tokenize(body)) AS w FROM search_chunk)
WHERE w <> '' AND w NOT IN (SELECT word FROM search_stopwords);

CREATE OR REPLACE TEMP TABLE search_chunk_stems AS
SELECT w, stem(w, 'porter') AS term
FROM (SELECT DISTINCT w FROM search_chunk_words);
