"""Plain DuckDB: is a commit that a process dies right after (before any checkpoint) found
by a keyed filter once the WAL is replayed? (newsledger issue 13 defect 1 hypothesis: the
replayed rows, e.g. an optimistic write logged as ROW_GROUP_DATA, are not merged into the
table's min/max statistics, so `k = X` prunes them.) New keys sort above every existing key
('zz…' > hex), so stale statistics would hide them. Prints base rows, inserted rows, WAL size
and how many inserted keys `k = ?` misses. Usage: python repro_duckdb_commit_exit.py BASE NEW
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

CHILD = """
import duckdb, os, sys
c = duckdb.connect(sys.argv[1])
c.execute("PRAGMA disable_checkpoint_on_shutdown")
c.execute("SET checkpoint_threshold = '10GB'")
c.execute("BEGIN TRANSACTION")
c.execute("INSERT INTO rev SELECT 'zz' || lpad(i::VARCHAR, 14, '0'), 1, repeat('word ', 60)"
          " FROM range(" + sys.argv[2] + ") t(i)")
c.execute("COMMIT")
os._exit(0)  # a kill right after COMMIT: no checkpoint, the WAL stays
"""


def main() -> None:
    base, new = int(sys.argv[1]), int(sys.argv[2])
    fast = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=fast) as tmp:
        db = str(Path(tmp) / "r.duckdb")
        with duckdb.connect(db) as conn:
            conn.execute(
                "CREATE TABLE rev (k VARCHAR, rev INTEGER, body VARCHAR, PRIMARY KEY (k, rev))"
            )
            conn.execute("CREATE INDEX rev_k ON rev (k)")
            conn.execute(
                f"INSERT INTO rev SELECT md5(i::VARCHAR)[:16], 1, repeat('word ', 60) "
                f"FROM range({base}) t(i)"
            )
        subprocess.run([sys.executable, "-c", CHILD, db, str(new)], check=True)
        wal = os.path.getsize(db + ".wal")
        with duckdb.connect(db) as conn:
            keys = [
                r[0]
                for r in conn.execute("SELECT k || '' FROM rev WHERE k || '' >= 'zz'").fetchall()
            ]
            missed = sum(
                conn.execute("SELECT count(*) FROM rev WHERE k = ?", [k]).fetchone()[0] != 1
                for k in keys
            )
        print(
            f"duckdb={duckdb.__version__} base={base} new={new} found_by_scan={len(keys)} "
            f"wal_bytes={wal} missed_by_key={missed}"
        )


if __name__ == "__main__":
    main()
