-- Bring the story_summary rows (migration 017) of the stories $article_ids (a list: those a
-- batch just wrote revisions of) up to date from their revisions, in the batch's transaction.
-- Recomputed from the revisions, not incremented, so a repeated run leaves the same rows. A
-- list filter, not a join: DuckDB reads the article_id index for it.
INSERT INTO story_summary
/*rows*/
ON CONFLICT (article_id) DO UPDATE SET
    revision = excluded.revision,
    revisions = excluded.revisions,
    last_changed_at = excluded.last_changed_at,
    outlet = excluded.outlet,
    language = excluded.language,
    headline_changes = excluded.headline_changes,
    title = excluded.title,
    authors = excluded.authors,
    words_added = excluded.words_added,
    words_removed = excluded.words_removed,
    changed_fields = excluded.changed_fields,
    update_notes = excluded.update_notes,
    change_reason = excluded.change_reason,
    published_at = excluded.published_at,
    published_time_known = excluded.published_time_known,
    identity = excluded.identity,
    first_seen_at = excluded.first_seen_at;
