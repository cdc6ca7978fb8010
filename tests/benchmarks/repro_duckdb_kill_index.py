"""Plain-DuckDB attempt at newsledger issue 13 defect 1 (a SIGKILL can wedge a file).

Upstream report draft
---------------------
duckdb 1.5.5 (Python), Linux, file on tmpfs.
Steps: a child process loops { connect(file); BEGIN; INSERT 25 rows into a table with a
composite PRIMARY KEY (k, rev) and a secondary ART index on k (rows from unnest(from_json(..)));
INSERT .. ON CONFLICT DO UPDATE into a second keyed table; COMMIT; close() (checkpoint) }.
The parent SIGKILLs it after a random delay, reopens the file and compares, for each key of
the last batches, `count(*) WHERE k = ?` with `count(*) WHERE k || '' = ?`.
Expected: equal counts (every committed row found by the keyed filter).
Actual in newsledger's write path (3 of 12 kills at batch 25 in the issue; the first kill in
tests/benchmarks/kill_ledger.py 2000 25): rows of the last committed batch are missed by the
keyed filter while the primary key still holds them, so re-inserting them fails with
`Duplicate key`. This script never shows it (0 in every run): it checks inside the reopening
connection, before the close that loses the replayed index entries. The cause and a minimal
reproduction: repro_duckdb_wal_index_replay.py.

Usage: python repro_duckdb_kill_index.py KILLS [BATCH] [--no-index] [--no-upsert] [--no-json]
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

SCHEMA = """
CREATE TABLE rev (k VARCHAR, rev INTEGER, run VARCHAR, body VARCHAR, PRIMARY KEY (k, rev));
CREATE TABLE state (input VARCHAR PRIMARY KEY, k VARCHAR, n INTEGER);
"""
INDEX = "CREATE INDEX rev_k_idx ON rev (k);"
INSERT_JSON = """INSERT INTO rev BY NAME SELECT row.* FROM (SELECT unnest(from_json($rows::JSON,
 '[{"k": "VARCHAR", "rev": "INTEGER", "run": "VARCHAR", "body": "VARCHAR"}]')) AS row)"""
UPSERT = """INSERT INTO state SELECT 'in-' || k, k, rev FROM rev WHERE run = $run
 ON CONFLICT (input) DO UPDATE SET k = excluded.k, n = excluded.n"""


def child(db: str, batch: int, start: int, flags: set[str]) -> None:
    n = start
    while True:
        conn = duckdb.connect(db)
        conn.execute("BEGIN TRANSACTION")
        rows = [
            {"k": f"{i:016x}", "rev": 1, "run": f"b{n}", "body": "word " * 60}
            for i in range(n, n + batch)
        ]
        if "--no-json" in flags:
            conn.executemany(
                "INSERT INTO rev VALUES (?, ?, ?, ?)", [list(r.values()) for r in rows]
            )
        else:
            conn.execute(INSERT_JSON, {"rows": json.dumps(rows)})
        if "--no-upsert" not in flags:
            conn.execute(UPSERT, {"run": f"b{n}"})
        conn.execute("COMMIT")
        conn.close()
        n += batch


def main() -> None:
    if sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), set(sys.argv[5:]))
        return
    kills = int(sys.argv[1])
    batch = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 25
    flags = {a for a in sys.argv[2:] if a.startswith("--")}
    rng = random.Random(7)
    fast = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=fast) as tmp:
        db = str(Path(tmp) / "r.duckdb")
        with duckdb.connect(db) as conn:
            conn.execute(SCHEMA)
            if "--no-index" not in flags:
                conn.execute(INDEX)
        bad = 0
        for kill in range(kills):
            with duckdb.connect(db, read_only=True) as conn:
                start = conn.execute("SELECT count(*) FROM rev").fetchone()[0]
            proc = subprocess.Popen(
                [sys.executable, __file__, "child", db, str(batch), str(start), *flags]
            )
            time.sleep(rng.uniform(0.3, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            wal = os.path.exists(db + ".wal")
            with duckdb.connect(db) as conn:
                keys = [
                    r[0]
                    for r in conn.execute(
                        "SELECT k || '' FROM rev ORDER BY k DESC LIMIT 500"
                    ).fetchall()
                ]
                missed = sum(
                    conn.execute("SELECT count(*) FROM rev WHERE k = ?", [k]).fetchone()[0] == 0
                    for k in keys
                )
            bad += missed > 0
            print(f"kill {kill}: wal={wal} rows={start} keys_missed_by_filter={missed}", flush=True)
        print(
            f"duckdb {duckdb.__version__} batch={batch} flags={sorted(flags)} kills={kills} "
            f"wedged={bad}"
        )


if __name__ == "__main__":
    main()
