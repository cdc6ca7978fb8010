-- 014: what the feeds say about each story, kept beside what its page says. Every poll that
-- reads an entry with a fetchable link records the entry's metadata (title, publication and
-- update times, authors, summary, as the feed states them) for that feed and URL, but only
-- when it differs from the latest version recorded for them: a re-poll of unchanged entries
-- adds nothing, an entry whose headline the feed rewrote adds one row. Append-only, like the
-- revisions. The page's own revision is never changed by it (a second opinion, not an input).
CREATE SEQUENCE feed_entry_id_seq;
CREATE TABLE feed_entries (
    feed_entry_id  BIGINT PRIMARY KEY DEFAULT nextval('feed_entry_id_seq'),
    feed_url       VARCHAR NOT NULL,
    url            VARCHAR NOT NULL,        -- the entry's normalised link (tracked_urls.url)
    entry_hash     VARCHAR NOT NULL,        -- sha256 of the fields below: a version's key
    guid           VARCHAR,
    title          VARCHAR,
    published_at   TIMESTAMPTZ,             -- UTC; NULL when absent, unreadable or > 2 days ahead
    updated_at     TIMESTAMPTZ,
    authors        VARCHAR[] NOT NULL,
    summary        VARCHAR,                 -- plain text, at most 2,000 characters
    run_id         VARCHAR NOT NULL,        -- the poll that first read this version
    seen_at        TIMESTAMPTZ NOT NULL
);
-- No ART index on url: duckdb 1.5.5 loses the rows of a replayed WAL from secondary indexes
-- (see tasks/store.py, WRITER_CONFIG); the lookups here are per poll, not per story.

-- Every version of every feed entry, with the story its link belongs to (NULL until the page
-- is stored), the feed's name, whether it is the feed's latest version of that entry, and the
-- observation of the page the entry led to: the first observation of that URL at or after the
-- poll that read it (NULL while the page was not fetched or failed).
CREATE VIEW feed_entry_metadata AS
SELECT
    e.feed_entry_id,
    i.article_id,
    e.url,
    e.feed_url,
    f.name AS feed_name,
    e.guid,
    e.title,
    e.published_at,
    e.updated_at,
    e.authors,
    e.summary,
    e.run_id,
    e.seen_at,
    min(e.seen_at) OVER (PARTITION BY e.feed_url, e.url) AS first_seen_at,
    e.feed_entry_id = max(e.feed_entry_id) OVER (PARTITION BY e.feed_url, e.url) AS is_latest,
    o.observation_id,
    o.revision AS observed_revision,
    o.observed_at
FROM feed_entries AS e
LEFT JOIN article_identities AS i ON i.identity = e.url
LEFT JOIN feeds AS f ON f.feed_url = e.feed_url
ASOF LEFT JOIN (
    SELECT observation_id, input, revision, observed_at
    FROM observations
    WHERE outcome <> 'failed'
) AS o ON o.input = e.url AND o.observed_at >= e.seen_at;

-- One row per story: its latest revision's title, authors and publication time, each with
-- where it comes from. Where the page states none, the feed's value (the latest version of
-- the entry of the feed that listed the story first) stands in, flagged 'feed'; the page's
-- own value always wins, and the revisions are not touched.
CREATE VIEW story_metadata AS
WITH feed AS (
    SELECT article_id, feed_url, feed_name, title, authors,
           coalesce(published_at, updated_at) AS published_at
    FROM feed_entry_metadata
    WHERE is_latest AND article_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY first_seen_at, feed_url) = 1
)
SELECT
    l.article_id,
    l.identity,
    l.revision,
    coalesce(l.title, f.title) AS title,
    CASE WHEN l.title IS NOT NULL THEN 'page' WHEN f.title IS NOT NULL THEN 'feed' END
        AS title_source,
    CASE WHEN len(l.authors) > 0 THEN l.authors ELSE coalesce(f.authors, []) END AS authors,
    CASE WHEN len(l.authors) > 0 THEN 'page' WHEN len(f.authors) > 0 THEN 'feed' END
        AS authors_source,
    coalesce(l.published_at, f.published_at) AS published_at,
    CASE WHEN l.published_at IS NOT NULL THEN l.published_time_known
         -- a feed states a full time; midnight UTC is taken as a day given alone
         WHEN f.published_at IS NOT NULL
             THEN strftime(timezone('UTC', f.published_at), '%H:%M:%S') <> '00:00:00'
         ELSE false END AS published_time_known,
    CASE WHEN l.published_at IS NOT NULL THEN 'page' WHEN f.published_at IS NOT NULL THEN 'feed' END
        AS published_source,
    f.feed_url,
    f.feed_name,
    f.title AS feed_title,
    f.authors AS feed_authors,
    f.published_at AS feed_published_at
FROM latest_revisions AS l
LEFT JOIN feed AS f USING (article_id);
