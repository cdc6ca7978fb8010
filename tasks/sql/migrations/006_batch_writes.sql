-- 006: idempotent batch writes. A batch write records its key (a hash of the run and of what
-- it stores) and its outcomes in the same transaction. A retry of a write that committed but
-- whose caller failed afterwards (a Prefect task whose write-slot release failed, say) finds
-- the key and returns the outcomes recorded then, instead of recording every observation a
-- second time. Rows live only while their run does: finish_run deletes them, and the run
-- that marks a dead run crashed deletes its rows.
CREATE TABLE batch_writes (
    run_id      VARCHAR NOT NULL,
    batch_key   VARCHAR NOT NULL,
    written_at  TIMESTAMPTZ NOT NULL,
    outcomes    JSON NOT NULL,               -- the StoredOutcome list the write returned
    PRIMARY KEY (run_id, batch_key)
);
