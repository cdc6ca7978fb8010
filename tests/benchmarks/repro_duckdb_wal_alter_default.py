"""Minimal plain-DuckDB reproduction of the `kill -9` wedge found by tests/test_kill_ledger.py.

Upstream report (duckdb 1.5.5, Linux x86_64, Python client):
  A table whose column has ``DEFAULT nextval('seq')``, then ``ALTER TABLE … ADD COLUMN``; the
  process dies before a checkpoint (kill -9, or ``os._exit`` with checkpoint on shutdown off).
  Reopening the file fails for good:
    INTERNAL Error: Failure while replaying WAL file "….wal": Calling
    DatabaseManager::GetDefaultDatabase with no default database set
  Expected: the WAL replays (or the committed ALTER is lost), the database opens.
  Without the DEFAULT nextval the same steps replay fine. Related: duckdb#18259, #22044, #22124.

newsledger's migration 004 has this shape (observations.observation_id DEFAULT nextval, then an
ADD COLUMN), so a writer killed after migrating a new ledger and before its close checkpointed
left a ledger no later run could open. store.migrate now checkpoints at once and new ledgers are
created in a private file and linked into place.

Run: python tests/benchmarks/repro_duckdb_wal_alter_default.py  (prints what each shape does)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

SHAPES = {
    "default nextval + add column": [
        "CREATE SEQUENCE s",
        "CREATE TABLE t (id BIGINT PRIMARY KEY DEFAULT nextval('s'), a VARCHAR)",
        "ALTER TABLE t ADD COLUMN b VARCHAR",
    ],
    "no default + add column": [
        "CREATE TABLE t (id BIGINT PRIMARY KEY, a VARCHAR)",
        "ALTER TABLE t ADD COLUMN b VARCHAR",
    ],
}


def child(path: str, shape: str) -> None:
    conn = duckdb.connect(path)
    conn.execute("PRAGMA disable_checkpoint_on_shutdown")  # as if killed before the checkpoint
    for statement in SHAPES[shape]:
        conn.execute(statement)
    os._exit(0)


def main() -> None:
    print(f"duckdb {duckdb.__version__}")
    for shape in SHAPES:
        with tempfile.TemporaryDirectory() as folder:
            path = str(Path(folder) / "repro.duckdb")
            subprocess.run([sys.executable, __file__, "--child", path, shape], check=True)
            try:
                duckdb.connect(path).close()
                outcome = "reopens"
            except duckdb.Error as error:
                outcome = f"FAILS: {str(error).splitlines()[0][:120]}"
            print(f"{shape:32s} {outcome}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
