-- 007: the last successful observation of each input (a path or URL as given), kept as one row
-- per input: the latest-row table next to the append-only observations. Deciding whether an
-- input is unchanged (same stat signature, same raw bytes, same extractor) then reads one row
-- per input instead of every observation the input ever had, so a re-ingest costs the same
-- after a year of daily runs as after one. write_batch upserts it in the batch's transaction.
CREATE TABLE input_state (
    input              VARCHAR PRIMARY KEY,
    observation_id     BIGINT NOT NULL,          -- the observation it copies
    identity           VARCHAR,
    raw_hash           VARCHAR,
    extractor_version  VARCHAR,
    content_hash       VARCHAR,
    file_signature     VARCHAR
);

-- The last successful observation of each input among the observations numbered from
-- first_id on: the backfill below reads them all, each batch write only its own.
CREATE MACRO latest_input_observations(first_id) AS TABLE
SELECT input, o.observation_id, o.identity, o.raw_hash, o.extractor_version, o.content_hash,
       o.file_signature
FROM (
    SELECT input, arg_max(o, observation_id) AS o
    FROM observations AS o
    WHERE observation_id >= first_id AND outcome <> 'failed'
    GROUP BY input
);

INSERT INTO input_state SELECT * FROM latest_input_observations(0);
