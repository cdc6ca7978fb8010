-- 012: rebuild the article_id indexes of migration 002. duckdb 1.5.5 drops the rows replayed
-- from a WAL out of a secondary index when the file is closed without an explicit CHECKPOINT
-- after the replay (what every writer of an older newsledger did after a killed one, and what
-- any other program opening the ledger read-write does): `article_id = X` then misses those
-- revisions while the primary key holds them, and every later ingest of the story fails with
-- `Duplicate key`. The table rows are intact; building the indexes again from them repairs such
-- a ledger. Writers no longer leave a WAL (every commit is checkpointed), so it does not recur.
DROP INDEX revisions_article_id_idx;
CREATE INDEX revisions_article_id_idx ON revisions (article_id);
DROP INDEX observations_article_id_idx;
CREATE INDEX observations_article_id_idx ON observations (article_id);
