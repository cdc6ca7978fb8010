-- 017: one row per story with what its latest revision is and what the story list of the web
-- view and of the Python API sorts and filters by, so that a page reads ~100,000 narrow rows
-- instead of grouping every revision per request. Kept by the batch write in the same
-- transaction as the story's new revisions (tasks/sql/refresh_story_summary.sql recomputes
-- the rows of the stories a batch revised from their revisions). Derived data only: filled
-- here from the revisions a ledger already has; no revision is changed.
CREATE TABLE story_summary (
    article_id        VARCHAR PRIMARY KEY,
    revision          INTEGER NOT NULL,        -- the latest revision
    revisions         INTEGER NOT NULL,        -- how many revisions
    last_changed_at   TIMESTAMPTZ NOT NULL,    -- max(observed_at) of its revisions
    outlet            VARCHAR,                 -- of the latest revision
    language          VARCHAR,                 -- of the latest revision
    headline_changes  INTEGER NOT NULL         -- revisions whose changed_fields has 'title'
);

INSERT INTO story_summary
SELECT article_id,
       max(revision),
       count(*),
       max(observed_at),
       arg_max(outlet, revision),
       arg_max(language, revision),
       count(*) FILTER (WHERE list_contains(changed_fields, 'title'))
FROM revisions
GROUP BY article_id;
