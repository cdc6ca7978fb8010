-- 005: robots.txt kept between runs, so that a poll asks each origin for it once a day
-- rather than once per run and batch (RFC 9309: cache it, but not for more than 24 hours).
-- One row per origin, replaced when fetched again; body NULL means the origin answered 4xx
-- ("allow all"). Origins whose robots.txt was unavailable (5xx, network) have no row: they
-- are asked again by the next fetch.
CREATE TABLE robots_txt (
    origin      VARCHAR PRIMARY KEY,   -- scheme://host[:port]
    status      INTEGER NOT NULL,
    body        VARCHAR,
    fetched_at  TIMESTAMPTZ NOT NULL
);
