-- 004: a file's stat signature on its observations, so that an unchanged re-ingest need not
-- read and hash every file again (what git's index and rsync's quick check do).
--
-- file_signature = "size:mtime_ns:ctime_ns:inode" of the file as stat'ed just before it was
-- read (NULL for web pages, and for files modified less than two seconds before they were
-- read: such a file may change again within the file system's timestamp granularity).
-- A file whose signature equals its last observation's is taken as unchanged without reading
-- it; any write changes its ctime, which no program can set back. NEWSLEDGER_TRUST_FILE_STAT
-- =false reads and hashes every file instead.
ALTER TABLE observations ADD COLUMN file_signature VARCHAR;
