-- Tokens of the chunk, as the fts extension makes them: its tokenizer, empty tokens and its
-- stop words (compared before stemming) dropped, counted per document and word (tf); then
-- each distinct word's Porter stem.
CREATE OR REPLACE TEMP TABLE search_chunk_words AS
SELECT doc_id, w, count(*) AS tf
FROM (SELECT doc_id, unnest(search_tokenize(body)) AS w FROM search_chunk)
WHERE w <> '' AND w NOT IN (SELECT word FROM search_stopwords)
GROUP BY doc_id, w;

CREATE OR REPLACE TEMP TABLE search_chunk_stems AS
SELECT w, stem(w, 'porter') AS term
FROM (SELECT DISTINCT w FROM search_chunk_words);
