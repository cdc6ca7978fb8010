-- Query layer: views and macros for the questions people ask of the ledger, indexes for the
-- read path, and the tables of the full-text search index.
--
-- Everything here is plain SQL over plain tables: it works from the `duckdb` shell or
-- `duckdb.connect(path, read_only=True)` with nothing of ours loaded, searching included
-- (only building the search index needs the `fts` extension, for its stemmer).

-- --- read path ---------------------------------------------------------------------------------
-- One story's history is a point lookup on article_id. Revisions are stored in the order they
-- were observed, so a story's rows are scattered over the table and zonemaps cannot skip
-- anything; an ART index turns the lookup into an index scan (the composite primary key on
-- (article_id, revision) is not used for a filter on article_id alone). Same for observations
-- (how often each revision was seen).
CREATE INDEX revisions_article_id_idx ON revisions (article_id);
CREATE INDEX observations_article_id_idx ON observations (article_id);

-- One row per article: its newest revision, with the article's identity. Same columns as in
-- migration 001. A join against the grouped maximum instead of `(article_id, revision) IN (…)`:
-- at least as fast for a full scan, and a filter on article_id now reaches the grouped side too,
-- so one story's latest revision no longer aggregates the whole table
-- (tests/benchmarks/bench_query.py).
CREATE OR REPLACE VIEW latest_revisions AS
SELECT a.identity, a.source_kind, a.first_seen_at, r.*
FROM revisions AS r
JOIN articles AS a USING (article_id)
JOIN (SELECT article_id, max(revision) AS revision FROM revisions GROUP BY article_id) AS m
    USING (article_id, revision);

-- Every revision of every article in order, with the size of each change. Same columns as in
-- migration 001; the revision count now comes from a grouped join rather than a window, so a
-- filter on article_id reaches the table scans (the window version read the whole table).
CREATE OR REPLACE VIEW article_history AS
SELECT
    a.article_id,
    a.identity,
    r.revision,
    r.observed_at,
    r.content_hash,
    r.title,
    r.word_count,
    r.words_added,
    r.words_removed,
    r.changed_fields,
    r.extractor_version,
    r.source,
    c.revision_count
FROM revisions AS r
JOIN articles AS a USING (article_id)
JOIN (SELECT article_id, count(*) AS revision_count FROM revisions GROUP BY article_id) AS c
    USING (article_id);

-- What each revision changed against the one before it (revision 1: everything is new, no
-- field counts as changed). words_added/words_removed and changed_fields are computed at ingest
-- (a word-level diff), so this view only names them.
CREATE VIEW revision_changes AS
SELECT
    r.article_id,
    a.identity,
    r.revision,
    r.observed_at,
    p.observed_at                               AS previous_observed_at,
    r.observed_at - p.observed_at               AS since_previous,
    r.title,
    r.word_count,
    r.word_count - coalesce(p.word_count, 0)    AS word_count_delta,
    r.words_added,
    r.words_removed,
    list_contains(r.changed_fields, 'title')        AS title_changed,
    list_contains(r.changed_fields, 'authors')      AS authors_changed,
    list_contains(r.changed_fields, 'published_at') AS published_changed,
    list_contains(r.changed_fields, 'modified_at')  AS modified_changed,
    list_contains(r.changed_fields, 'text')         AS text_changed,
    r.changed_fields,
    r.content_hash
FROM revisions AS r
JOIN articles AS a USING (article_id)
LEFT JOIN revisions AS p ON p.article_id = r.article_id AND p.revision = r.revision - 1;

-- Every rewritten headline: the title before and after, and when each version was observed.
CREATE VIEW headline_changes AS
SELECT
    r.article_id,
    a.identity,
    p.revision     AS old_revision,
    r.revision     AS new_revision,
    p.observed_at  AS old_observed_at,
    r.observed_at  AS changed_at,
    p.title        AS old_title,
    r.title        AS new_title
FROM revisions AS r
JOIN revisions AS p ON p.article_id = r.article_id AND p.revision = r.revision - 1
JOIN articles AS a ON a.article_id = r.article_id
WHERE list_contains(r.changed_fields, 'title');

-- Time travel: each article as it stood at time ts (its newest revision observed at or before
-- ts; articles first seen later are absent). Same columns as latest_revisions. A timestamp
-- without a zone is read in the session's TimeZone (`SET TimeZone = 'UTC'` to be explicit).
CREATE MACRO as_of(ts) AS TABLE
SELECT a.identity, a.source_kind, a.first_seen_at, r.*
FROM revisions AS r
JOIN articles AS a USING (article_id)
JOIN (
    SELECT article_id, max(revision) AS revision
    FROM revisions
    WHERE observed_at <= CAST(ts AS TIMESTAMPTZ)
    GROUP BY article_id
) AS m USING (article_id, revision);

-- --- full-text search index -------------------------------------------------------------------
-- Built and kept current by tasks/search.py (refresh_search_index, run after each ingest), with
-- the fts extension's own analyzer: its tokenizer (search_tokenize below is the same
-- expression), its English stop words and its Porter stemmer. The index is incremental: each
-- refresh indexes only revisions not yet in search_docs, in chunks, each chunk one short
-- transaction appending one sorted run of postings; runs are merged (tiered, like an LSM
-- tree) so that a term's postings stay in few row groups that zonemaps find. Scores are the
-- BM25 of the fts extension's match_bm25 (k = 1.2, b = 0.75, log base 10 as there, title and
-- text as one document).

-- What the index covers: one row (id = 1).
CREATE TABLE search_state (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    analyzer           VARCHAR NOT NULL,        -- tokenizer/stemmer/stop words; a change rebuilds
    indexed_revisions  BIGINT NOT NULL,         -- = count(*) of revisions when current
    updated_at         TIMESTAMPTZ NOT NULL
);

-- The fts extension's English stop word list (filled from the extension on first refresh).
CREATE TABLE search_stopwords (
    word  VARCHAR NOT NULL
);

-- Stemmed terms and their ids.
CREATE TABLE search_terms (
    termid  INTEGER NOT NULL,
    term    VARCHAR NOT NULL
);

-- Every word form seen in the indexed text (as the tokenizer gives it: lower case, accents
-- stripped, stop words left out) and the id of its stem: a query is looked up here without
-- stemming, so searching needs no extension (`newsledger search` still stems, with fts, the
-- words the ledger never contained).
CREATE TABLE search_words (
    word    VARCHAR NOT NULL,
    termid  INTEGER NOT NULL
);

-- One document per revision: its length in terms (title + text, stop words excluded).
CREATE TABLE search_docs (
    doc_id       INTEGER NOT NULL,
    article_id   VARCHAR NOT NULL,
    revision     INTEGER NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL,
    len          INTEGER NOT NULL,
    PRIMARY KEY (article_id, revision)
);

-- Sorted runs of postings: how often each term occurs in each document.
CREATE TABLE search_runs (
    run_id      INTEGER PRIMARY KEY,
    level       INTEGER NOT NULL,               -- 0: one refresh chunk; n+1: a merge of level n
    postings    BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE search_postings (
    termid  INTEGER NOT NULL,
    doc_id  INTEGER NOT NULL,
    tf      INTEGER NOT NULL,
    run_id  INTEGER NOT NULL
);

-- The fts extension's tokenizer (fts_main_<table>.tokenize), usable without the extension.
CREATE MACRO search_tokenize(s) AS
    string_split_regex(
        regexp_replace(lower(strip_accents(CAST(s AS VARCHAR))),
                       '[0-9!@#$%^&*()_+={}\[\]:;<>,.?~\\/\|''"`-]+', ' ', 'g'),
        '\s+');

-- BM25 over every indexed revision, for SQL users, with nothing loaded:
-- `SELECT * FROM search_revisions('ceasefire talks') ORDER BY score DESC LIMIT 10`.
-- Query words are matched through search_words (every form the ledger contains); a word the
-- ledger never contained matches nothing here, while `newsledger search` stems it and may
-- find other forms. `newsledger search` inlines the term ids (faster: zonemaps).
CREATE MACRO search_revisions(query) AS TABLE
WITH terms AS (
    SELECT DISTINCT w.termid
    FROM search_words AS w
    WHERE w.word IN (SELECT unnest(search_tokenize(query)))
),
hits AS (
    SELECT p.termid, p.doc_id, p.tf
    FROM search_postings AS p
    WHERE p.termid IN (SELECT termid FROM terms)
),
df AS (SELECT termid, count(*) AS df FROM hits GROUP BY termid),
stats AS (SELECT count(*) AS n, avg(len) AS avgdl FROM search_docs),
scored AS (
    SELECT h.doc_id,
           sum(log((stats.n - df.df + 0.5) / (df.df + 0.5) + 1)
               * h.tf * (1.2 + 1) / (h.tf + 1.2 * (1 - 0.75 + 0.75 * d.len / stats.avgdl)))
               AS score
    FROM hits AS h
    JOIN df USING (termid)
    JOIN search_docs AS d USING (doc_id)
    CROSS JOIN stats
    GROUP BY h.doc_id
)
SELECT d.article_id, d.revision, d.observed_at, s.score
FROM scored AS s
JOIN search_docs AS d USING (doc_id);
