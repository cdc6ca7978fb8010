-- 003: web sources. The raw archive (every fetched body, compressed, content-addressed), the
-- fetch log (headers and time of every fetch), the state of every tracked URL (validators for
-- conditional GETs, revisit schedule, retry/backoff of failures) and of every feed.

CREATE TABLE raw_pages (
    raw_hash          VARCHAR PRIMARY KEY,      -- sha256 of the decoded body
    compression       VARCHAR NOT NULL,         -- 'zlib'
    body              BLOB NOT NULL,
    size              INTEGER NOT NULL,
    compressed_size   INTEGER NOT NULL,
    first_fetched_at  TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE fetch_id_seq;
CREATE TABLE fetches (
    fetch_id       BIGINT PRIMARY KEY DEFAULT nextval('fetch_id_seq'),
    run_id         VARCHAR NOT NULL,
    url            VARCHAR NOT NULL,            -- the URL asked for
    final_url      VARCHAR,                     -- after redirects
    purpose        VARCHAR NOT NULL,            -- page | feed
    fetched_at     TIMESTAMPTZ NOT NULL,
    status         INTEGER,                     -- HTTP status (NULL when no response)
    raw_hash       VARCHAR,                     -- body in raw_pages (NULL for 304 / errors)
    headers        JSON,
    etag           VARCHAR,
    last_modified  VARCHAR,
    content_type   VARCHAR,
    attempts       INTEGER,
    error          VARCHAR                      -- error code when the fetch failed
);

CREATE TABLE tracked_urls (
    url                   VARCHAR PRIMARY KEY,  -- normalised URL (the story's identity)
    article_id            VARCHAR,
    feed_url              VARCHAR,              -- the feed it was discovered in
    discovered_at         TIMESTAMPTZ NOT NULL,
    etag                  VARCHAR,
    last_modified         VARCHAR,
    last_status           INTEGER,
    last_fetched_at       TIMESTAMPTZ,
    last_changed_at       TIMESTAMPTZ,          -- last new revision
    next_check_at         TIMESTAMPTZ NOT NULL,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    last_error            VARCHAR,
    gave_up               BOOLEAN NOT NULL DEFAULT false,
    watch_factor          DOUBLE NOT NULL DEFAULT 1.0,  -- >1: revisit more often
    alias_of              VARCHAR               -- set when the page names another canonical URL:
                                                -- the canonical is revisited instead
);

CREATE TABLE feeds (
    feed_url              VARCHAR PRIMARY KEY,
    name                  VARCHAR,
    etag                  VARCHAR,
    last_modified         VARCHAR,
    last_status           INTEGER,
    last_polled_at        TIMESTAMPTZ,
    next_poll_at          TIMESTAMPTZ,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    last_error            VARCHAR,
    entries_seen          INTEGER NOT NULL DEFAULT 0
);
