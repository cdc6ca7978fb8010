-- The ledger in one row: stories, revisions, observations, failures, runs, and time span.
SELECT
    (SELECT count(*) FROM articles)                         AS stories,
    (SELECT count(*) FROM revisions)                        AS revisions,
    (SELECT count(*) FROM revisions WHERE revision > 1)     AS edits,
    (SELECT count(*) FROM observations)                     AS observations,
    (SELECT count(*) FROM failures)                         AS failures,
    (SELECT count(*) FROM ingest_runs)                      AS runs,
    (SELECT min(observed_at) FROM revisions)                AS first_observed,
    (SELECT max(observed_at) FROM revisions)                AS last_observed;
