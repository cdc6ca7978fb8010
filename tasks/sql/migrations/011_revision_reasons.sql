-- 011: why a revision was made. The revision rule compares the story, not the raw text
-- (tasks/comparison.py: normalised title, authors and text with boilerplate blocks such as
-- ad labels, related-link lists, log-in prompts, counters and page timestamps left out).
-- Each new revision records that comparison's hash and what it found; revisions stored
-- before keep NULLs here (their story hash is derived from their stored text when a new
-- version is compared with them, so they do not look changed on their next visit).
ALTER TABLE revisions ADD COLUMN story_hash VARCHAR;          -- "story-v1:" + sha256
ALTER TABLE revisions ADD COLUMN change_reason VARCHAR;       -- first_seen | edited | reextracted
ALTER TABLE revisions ADD COLUMN blocks_added INTEGER;        -- story blocks (paragraphs, …)
ALTER TABLE revisions ADD COLUMN blocks_removed INTEGER;      --   against the previous revision
ALTER TABLE revisions ADD COLUMN blocks_changed INTEGER;
ALTER TABLE revisions ADD COLUMN boilerplate_blocks INTEGER;  -- blocks of this text left out

-- Same columns as in migration 002, and why each revision was made.
CREATE OR REPLACE VIEW revision_changes AS
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
    r.content_hash,
    r.change_reason,
    r.blocks_added,
    r.blocks_removed,
    r.blocks_changed
FROM revisions AS r
JOIN articles AS a USING (article_id)
LEFT JOIN revisions AS p ON p.article_id = r.article_id AND p.revision = r.revision - 1;
