-- 010: publication and update times as timestamps with time zone. Revisions stored before
-- keep what they recorded (the DATE columns published_at / modified_at, never rewritten);
-- new revisions also record the instant (UTC in storage; the offset the page stated stays in
-- metadata.published_at_iso / modified_at_iso) and whether the time of day is known (a
-- source that states only a day gives that day at midnight UTC, time unknown). The DATE
-- columns keep the day as the source states it, for old and new revisions alike.
ALTER TABLE revisions ADD COLUMN published_timestamp TIMESTAMPTZ;
ALTER TABLE revisions ADD COLUMN modified_timestamp TIMESTAMPTZ;
ALTER TABLE revisions ADD COLUMN published_time_known BOOLEAN;
ALTER TABLE revisions ADD COLUMN modified_time_known BOOLEAN;

-- One coherent pair of columns for every revision, old or new: the instant (an old DATE reads
-- as midnight UTC of that day) and whether its time of day is known (false for old rows).
CREATE MACRO stated_time(stamp, day) AS
    coalesce(stamp, CASE WHEN day IS NOT NULL THEN timezone('UTC', CAST(day AS TIMESTAMP)) END);

-- How a stated time reads for people: '2025-09-02 12:30 UTC' when the time of day is known,
-- '2025-09-02' (the day) when it is not.
CREATE MACRO stated_time_label(stamp, time_known) AS
    CASE WHEN stamp IS NULL THEN NULL
         WHEN time_known THEN strftime(timezone('UTC', stamp), '%Y-%m-%d %H:%M UTC')
         ELSE strftime(timezone('UTC', stamp), '%Y-%m-%d') END;

-- The views expose published_at / modified_at as TIMESTAMPTZ (stated_time above) and
-- published_time_known / modified_time_known never NULL, without the raw *_timestamp columns,
-- and add the stated days as published_date / modified_date. Otherwise the same columns.
CREATE OR REPLACE VIEW latest_revisions AS
SELECT a.identity, a.source_kind, a.first_seen_at,
       r.* EXCLUDE (published_timestamp, modified_timestamp)
           REPLACE (stated_time(r.published_timestamp, r.published_at) AS published_at,
                    stated_time(r.modified_timestamp, r.modified_at) AS modified_at,
                    coalesce(r.published_time_known, false) AS published_time_known,
                    coalesce(r.modified_time_known, false) AS modified_time_known),
       r.published_at AS published_date,
       r.modified_at AS modified_date
FROM revisions AS r
JOIN articles AS a USING (article_id)
JOIN (SELECT article_id, max(revision) AS revision FROM revisions GROUP BY article_id) AS m
    USING (article_id, revision);

-- Every revision with the coherent time columns (what latest_revisions and as_of show, for
-- all revisions): the table a question about publication times should read.
CREATE VIEW revisions_timed AS
SELECT r.* EXCLUDE (published_timestamp, modified_timestamp)
           REPLACE (stated_time(r.published_timestamp, r.published_at) AS published_at,
                    stated_time(r.modified_timestamp, r.modified_at) AS modified_at,
                    coalesce(r.published_time_known, false) AS published_time_known,
                    coalesce(r.modified_time_known, false) AS modified_time_known),
       r.published_at AS published_date,
       r.modified_at AS modified_date
FROM revisions AS r;

DROP MACRO TABLE as_of;
CREATE MACRO as_of(ts) AS TABLE
SELECT a.identity, a.source_kind, a.first_seen_at, r.*
FROM revisions_timed AS r
JOIN articles AS a USING (article_id)
JOIN (
    SELECT article_id, max(revision) AS revision
    FROM revisions
    WHERE observed_at <= CAST(ts AS TIMESTAMPTZ)
    GROUP BY article_id
) AS m USING (article_id, revision);
