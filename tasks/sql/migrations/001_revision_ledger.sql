-- 001: the append-only revision ledger.
-- articles: one row per story identity. revisions: append-only, never updated or deleted.
-- observations: every time a story was seen. failures: every input that could not be stored.
-- ingest_runs: one row per flow run, with counts.

CREATE TABLE articles (
    article_id     VARCHAR PRIMARY KEY,          -- first 16 hex of sha256(identity)
    identity       VARCHAR NOT NULL UNIQUE,      -- "file:<relative path>" or a normalised URL
    source_kind    VARCHAR NOT NULL,             -- text | html | url
    first_source   VARCHAR,                      -- the path or URL it was first read from
    first_seen_at  TIMESTAMPTZ NOT NULL
);

-- Every identity (file path, URL, canonical URL alias) that leads to an article.
CREATE TABLE article_identities (
    identity    VARCHAR PRIMARY KEY,
    article_id  VARCHAR NOT NULL,
    added_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE revisions (
    article_id         VARCHAR NOT NULL,
    revision           INTEGER NOT NULL,         -- 1, 2, 3 … per article
    observed_at        TIMESTAMPTZ NOT NULL,     -- when this version was first seen
    run_id             VARCHAR NOT NULL,
    content_hash       VARCHAR NOT NULL,         -- sha256 of canonical JSON {title, authors, text}
    raw_hash           VARCHAR,                  -- sha256 of the source bytes
    source             VARCHAR,                  -- path or URL read
    title              VARCHAR,
    authors            VARCHAR[] NOT NULL,
    outlet             VARCHAR,
    published_at       DATE,
    modified_at        DATE,
    language           VARCHAR,
    lede               VARCHAR,
    dateline           VARCHAR,
    section_headings   VARCHAR[] NOT NULL,
    update_notes       VARCHAR[] NOT NULL,
    canonical_url      VARCHAR,
    text               VARCHAR NOT NULL,
    word_count         INTEGER NOT NULL,
    words_added        INTEGER NOT NULL,         -- against the previous revision (all words for 1)
    words_removed      INTEGER NOT NULL,
    changed_fields     VARCHAR[] NOT NULL,       -- e.g. ['title', 'text']; [] for revision 1
    metadata           JSON,
    extractor_version  VARCHAR NOT NULL,
    PRIMARY KEY (article_id, revision)
);

CREATE SEQUENCE observation_id_seq;
CREATE TABLE observations (
    observation_id     BIGINT PRIMARY KEY DEFAULT nextval('observation_id_seq'),
    run_id             VARCHAR NOT NULL,
    article_id         VARCHAR,                  -- NULL when the input never had an identity
    identity           VARCHAR,
    input              VARCHAR NOT NULL,
    observed_at        TIMESTAMPTZ NOT NULL,
    outcome            VARCHAR NOT NULL CHECK (outcome IN ('new', 'revised', 'unchanged', 'failed')),
    revision           INTEGER,                  -- the revision stored or matched
    content_hash       VARCHAR,
    raw_hash           VARCHAR,
    extractor_version  VARCHAR
);

CREATE SEQUENCE failure_id_seq;
CREATE TABLE failures (
    failure_id   BIGINT PRIMARY KEY DEFAULT nextval('failure_id_seq'),
    run_id       VARCHAR NOT NULL,
    input        VARCHAR NOT NULL,               -- the path or URL that failed
    identity     VARCHAR,
    stage        VARCHAR NOT NULL,               -- load | clean | fetch | feed | store
    error        VARCHAR NOT NULL,               -- short code: empty, binary, oversized, …
    message      VARCHAR NOT NULL,               -- what went wrong, for a person
    occurred_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE ingest_runs (
    run_id               VARCHAR PRIMARY KEY,
    flow                 VARCHAR NOT NULL,       -- ingest_files, poll_feeds, …
    started_at           TIMESTAMPTZ NOT NULL,
    finished_at          TIMESTAMPTZ,
    status               VARCHAR NOT NULL,       -- running | completed | crashed
    orchestrator         VARCHAR NOT NULL,       -- prefect | local
    prefect_flow_run_id  VARCHAR,
    host                 VARCHAR,
    pid                  INTEGER,
    arguments            JSON,
    new_count            INTEGER NOT NULL DEFAULT 0,
    revised_count        INTEGER NOT NULL DEFAULT 0,
    unchanged_count      INTEGER NOT NULL DEFAULT 0,
    failed_count         INTEGER NOT NULL DEFAULT 0,
    skipped_count        INTEGER NOT NULL DEFAULT 0
);

-- One row per article: its newest revision, with the article's identity.
CREATE VIEW latest_revisions AS
SELECT a.identity, a.source_kind, a.first_seen_at, r.*
FROM revisions AS r
JOIN articles AS a USING (article_id)
WHERE (r.article_id, r.revision) IN (
    SELECT article_id, max(revision) FROM revisions GROUP BY article_id
);

-- Every revision of every article in order, with the size of each change.
CREATE VIEW article_history AS
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
    count(*) OVER (PARTITION BY r.article_id) AS revision_count
FROM revisions AS r
JOIN articles AS a USING (article_id);
