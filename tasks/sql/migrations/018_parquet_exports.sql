-- 018: incremental Parquet exports (`newsledger export --partition-by …`, the `export` flow).
-- Each export of a target (a folder or an s3:// prefix) writes the revisions not yet exported
-- there, as files named part-<export_id>-<n>.parquet in Hive-style partition folders.
-- Revisions of a story are numbered 1, 2, 3 … and never change, so the watermark is kept per
-- story: the last revision exported to that target. An export is recorded as 'writing' before
-- its files are written and 'done' (with the new marks) after; the files of an export still
-- 'writing' at the next run of the same target were left by a crash and are removed then.
CREATE TABLE parquet_exports (
    export_id     VARCHAR PRIMARY KEY,
    target        VARCHAR NOT NULL,
    partition_by  VARCHAR[] NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL CHECK (status IN ('writing', 'done', 'abandoned', 'replaced')),
    revisions     BIGINT,                   -- rows written
    files         INTEGER                   -- Parquet files written
);

CREATE TABLE parquet_export_marks (
    target      VARCHAR NOT NULL,
    article_id  VARCHAR NOT NULL,
    revision    INTEGER NOT NULL,           -- the last revision of the story in that target
    PRIMARY KEY (target, article_id)
);
