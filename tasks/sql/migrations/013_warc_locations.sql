-- 013: the WARC archive (tasks/archive). Each fetch row says where its exchanges are in the
-- .warc.gz files of the archive folder (NULL: archiving was off, no response came back, or
-- the fetch predates this migration; raw_pages keeps every body either way, nothing moves).
-- warc_file / warc_offset / warc_length locate the response (or, for a 304, revisit) record
-- of the exchange that answered, as a CDX index would; warc_request_offset its request record,
-- which comes right before it. warc_exchanges lists every exchange of the fetch in order
-- (retries and redirect hops included): [{file, request_offset, offset, length}, …].
ALTER TABLE fetches ADD COLUMN warc_file VARCHAR;
ALTER TABLE fetches ADD COLUMN warc_request_offset BIGINT;
ALTER TABLE fetches ADD COLUMN warc_offset BIGINT;
ALTER TABLE fetches ADD COLUMN warc_length BIGINT;
ALTER TABLE fetches ADD COLUMN warc_exchanges JSON;
