"""Minimal plain-DuckDB reproduction of issue 13 defect 1 (a `kill -9` wedges the ledger).

Upstream report draft (duckdb 1.5.5, Linux x86_64, Python client)
------------------------------------------------------------------
A table with a secondary index (``CREATE INDEX t_k ON t (k)``). A process commits an INSERT
and dies before any checkpoint (``kill -9``; here ``os._exit`` right after the commit). The
next process opens the file read-write (the WAL is replayed), runs nothing, and closes it (the
close checkpoints). From then on the replayed rows are missing from the secondary index:
``SELECT count(*) FROM t WHERE k = ?`` (an index scan) returns 0 for them while
``WHERE k || '' = ?`` finds them. With a primary key on (k, n) as well, the primary key still
holds them, so inserting them again fails with ``Duplicate key`` while lookups say they are
absent: a program that looks before it inserts is stuck for good.
Expected: the close after a replay persists the replayed index entries.
Not affected: an explicit ``CHECKPOINT`` after the open, or any query or write on the table
before the close (the index is then loaded with the replayed entries); a read-only open; a
table without a secondary index; a single-column primary key. A write to another table does
not help.

In newsledger every writer used to open the ledger, write, and close it; after a killed writer
the next one replayed the WAL and closed it without touching the indexed column first when its
first write went elsewhere (begin_run), so the killed run's last batch vanished from
``revisions_article_id_idx`` and every later ingest of those stories hit `Duplicate key`.

Run: python tests/benchmarks/repro_duckdb_wal_index_replay.py  (one line per variant)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import duckdb

SCHEMAS = {
    "secondary index": "CREATE TABLE t (k VARCHAR, n INTEGER); CREATE INDEX t_k ON t (k)",
    "primary key (k, n) + secondary index": (
        "CREATE TABLE t (k VARCHAR, n INTEGER, PRIMARY KEY (k, n)); CREATE INDEX t_k ON t (k)"
    ),
    "single-column primary key only": "CREATE TABLE t (k VARCHAR PRIMARY KEY, n INTEGER)",
    "no index": "CREATE TABLE t (k VARCHAR, n INTEGER)",
}
AFTER_OPEN = {
    "nothing": None,
    "CHECKPOINT": "CHECKPOINT",
    "a query on t": "SELECT count(*) FROM t WHERE k = 'new-1'",
    "a write to another table": "CREATE TABLE other AS SELECT 1 AS x",
}
KILLED_AFTER_COMMIT = """
import os, sys
import duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("INSERT INTO t SELECT 'new-' || i, 1 FROM range(6) r(i)")
os._exit(0)  # like kill -9 right after the commit: the rows are only in the WAL
"""


def missed_by_lookup(db: str) -> int:
    with duckdb.connect(db, read_only=True) as conn:
        keys = [row[0] for row in conn.execute("SELECT k || '' FROM t").fetchall()]
        return sum(
            conn.execute("SELECT count(*) FROM t WHERE k = ?", [key]).fetchone() == (0,)
            for key in keys
        )


def run(schema: str, after_open: str | None) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "t.duckdb")
        with duckdb.connect(db) as conn:
            conn.execute(schema)
            conn.execute("INSERT INTO t SELECT 'old-' || i, 1 FROM range(10) r(i)")
        subprocess.run([sys.executable, "-c", KILLED_AFTER_COMMIT, db], check=True)
        wal = os.path.exists(db + ".wal")
        before = missed_by_lookup(db)  # read-only: replays in memory, nothing persisted
        conn = duckdb.connect(db)  # read-write: replays the WAL
        if after_open:
            conn.execute(after_open).fetchall()
        conn.close()  # checkpoints
        after = missed_by_lookup(db)
        reinsert = "-"
        if "PRIMARY KEY" in schema:
            try:
                with duckdb.connect(db) as conn:
                    conn.execute("INSERT INTO t VALUES ('new-1', 1)")
                reinsert = "accepted"
            except duckdb.ConstraintException:
                reinsert = "Duplicate key"
        return f"wal_left={wal} missed_before={before} missed_after={after} reinsert={reinsert}"


def main() -> None:
    print(f"duckdb {duckdb.__version__}: 6 rows committed, then the process died")
    for name, schema in SCHEMAS.items():
        for label, statement in AFTER_OPEN.items():
            if statement and name != "secondary index":
                continue
            print(f"{name:38} | after reopen: {label:25} | {run(schema, statement)}", flush=True)


if __name__ == "__main__":
    main()
