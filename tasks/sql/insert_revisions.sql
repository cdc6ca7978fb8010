INSERT INTO revisions BY NAME
SELECT row.* FROM (
    SELECT unnest(from_json($rows::JSON, '[{"article_id": "VARCHAR", "revision": "INTEGER",
        "observed_at": "TIMESTAMPTZ", "run_id": "VARCHAR", "content_hash": "VARCHAR",
        "story_hash": "VARCHAR", "raw_hash": "VARCHAR", "source": "VARCHAR",
        "title": "VARCHAR", "authors": ["VARCHAR"], "outlet": "VARCHAR",
        "published_at": "DATE", "modified_at": "DATE",
        "published_timestamp": "TIMESTAMPTZ", "modified_timestamp": "TIMESTAMPTZ",
        "published_time_known": "BOOLEAN", "modified_time_known": "BOOLEAN",
        "language": "VARCHAR", "lede": "VARCHAR", "dateline": "VARCHAR",
        "section_headings": ["VARCHAR"], "update_notes": ["VARCHAR"],
        "canonical_url": "VARCHAR", "text": "VARCHAR", "word_count": "INTEGER",
        "words_added": "INTEGER", "words_removed": "INTEGER", "changed_fields": ["VARCHAR"],
        "change_reason": "VARCHAR", "blocks_added": "INTEGER", "blocks_removed": "INTEGER",
        "blocks_changed": "INTEGER", "boilerplate_blocks": "INTEGER",
        "metadata": "JSON", "extractor_version": "VARCHAR"}]')) AS row
);
