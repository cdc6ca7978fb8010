-- Merge the runs $run_ids (one level) into one sorted run $new_run_id at level $level.
INSERT INTO search_postings
SELECT termid, doc_id, tf, $new_run_id
FROM search_postings
WHERE run_id IN (SELECT unnest($run_ids))
ORDER BY termid, doc_id;

DELETE FROM search_postings WHERE run_id IN (SELECT unnest($run_ids));
DELETE FROM search_runs WHERE run_id IN (SELECT unnest($run_ids));

INSERT INTO search_runs
SELECT $new_run_id, $level, count(*), $now FROM search_postings WHERE run_id = $new_run_id;
