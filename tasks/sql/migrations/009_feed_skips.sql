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
