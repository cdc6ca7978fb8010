-- 009: feed entries that a poll read but did not fetch, each with the reason (nothing a feed
-- lists vanishes without a record): a link that is not http(s) (unsupported_scheme), no link
-- (no_link), a repeated link or guid within the feed (duplicate_link / duplicate_guid, the
-- message names the other entry and its link), a link another feed of the same poll listed.
CREATE TABLE feed_skips (
    run_id       VARCHAR NOT NULL,
    feed_url     VARCHAR NOT NULL,
    entry        VARCHAR NOT NULL,      -- the entry's guid, link or title as written
    reason       VARCHAR NOT NULL,      -- a short code
    message      VARCHAR NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);

-- A URL refused by policy (SSRF guard, disallowed scheme, robots.txt) is not a transient
-- failure: its crawl state keeps the fingerprint of the policy that refused it (the relevant
-- settings, and for robots.txt the hash of the rules) and it is not due again, nor retried,
-- until that policy changes.
ALTER TABLE tracked_urls ADD COLUMN refused_policy VARCHAR;
