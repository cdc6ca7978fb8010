-- A repair after an unclean shutdown: build the article_id indexes again from the table rows
-- (duckdb 1.5.5 can lose replayed rows from them; see migration 012). Rows are not touched:
-- deleting a row whose index entry is lost is a fatal error in DuckDB.
DROP INDEX revisions_article_id_idx;
CREATE INDEX revisions_article_id_idx ON revisions (article_id);
DROP INDEX observations_article_id_idx;
CREATE INDEX observations_article_id_idx ON observations (article_id);
