-- 017: one row per story: its latest revision, what the story list (of the web view and the
-- Python API) sorts and filters by, and what it shows of the latest revision, so that a page
-- reads ~100,000 rows of one small table instead of grouping every revision per request and
-- fetching rows scattered through the revisions table (outlet and language as the story list
-- always read them: the latest non-NULL value; the other columns exactly the latest
-- revision's). Kept by the batch write in the same transaction as the story's new revisions (tasks/sql/refresh_story_summary.sql recomputes
-- the rows of the stories a batch wrote from their revisions). Derived data only: filled
-- here from the revisions a ledger already has; no revision is changed.
CREATE TABLE story_summary (
    article_id            VARCHAR PRIMARY KEY,
    revision              INTEGER NOT NULL,     -- the latest revision
    revisions             INTEGER NOT NULL,     -- how many revisions
    last_changed_at       TIMESTAMPTZ NOT NULL, -- max(observed_at) of its revisions
    outlet                VARCHAR,              -- this and the columns below: of the latest
    language              VARCHAR,
    headline_changes      INTEGER NOT NULL,     -- revisions whose changed_fields has 'title'
    title                 VARCHAR,
    authors               VARCHAR[],
    words_added           INTEGER,
    words_removed         INTEGER,
    changed_fields        VARCHAR[],
    update_notes          VARCHAR[],
    change_reason         VARCHAR,
    published_at          TIMESTAMPTZ,          -- as revisions_timed states it
    published_time_known  BOOLEAN,
    identity              VARCHAR NOT NULL,     -- the story's (articles)
    first_seen_at         TIMESTAMPTZ NOT NULL
);

INSERT INTO story_summary
SELECT s.*, a.identity, a.first_seen_at
FROM (
SELECT article_id,
       max(revision)                                                    AS revision,
       count(*)                                                         AS revisions,
       max(observed_at)                                                 AS last_changed_at,
       arg_max(outlet, revision)                                        AS outlet,
       arg_max(language, revision)                                      AS language,
       count(*) FILTER (WHERE list_contains(changed_fields, 'title'))   AS headline_changes,
       arg_max_null(title, revision)                                       AS title,
       arg_max_null(authors, revision)                                     AS authors,
       arg_max_null(words_added, revision)                                 AS words_added,
       arg_max_null(words_removed, revision)                               AS words_removed,
       arg_max_null(changed_fields, revision)                              AS changed_fields,
       arg_max_null(update_notes, revision)                                AS update_notes,
       arg_max_null(change_reason, revision)                               AS change_reason,
       arg_max_null(published_at, revision)                                AS published_at,
       arg_max_null(published_time_known, revision)                        AS published_time_known
FROM revisions_timed
GROUP BY article_id
) AS s
JOIN articles AS a ON a.article_id = s.article_id;
