"""Minimal plain-DuckDB reproduction of issue 13 defect 1, second form (a torn checkpoint).

Upstream report draft (duckdb 1.5.5, Linux x86_64, Python client)
------------------------------------------------------------------
A database with several tables, most of which a transaction does not touch. A writer commits
small transactions with a checkpoint after each (``checkpoint_threshold='0b'``). The checkpoint
puts the new metadata in the free 4 KiB sub-blocks of a 256 KiB metadata block whose other
sub-blocks still hold the metadata of the unchanged tables for the *durable* checkpoint, and
writes that whole block back in place (``MetadataManager::Flush``). If the writer is killed
while that ``pwrite`` is under way (Linux ends a regular-file write early on SIGKILL) or the
power goes, the block is left half old, half new under one checksum, and the database can never
be opened again: ``IO Error: Corrupt database file: computed checksum C does not match stored
checksum S in block at location L``. Yet no byte the durable checkpoint needs has changed.
Expected: a checkpoint never rewrites a block the durable header references (copy-on-write of
metadata blocks), so a kill or power cut leaves the last checkpoint readable.
Not affected: a database whose only table changes in each transaction (its metadata blocks are
entirely rewritten, so no live sub-block shares a block that is written in place).

The tear is made deterministic by ``tests/torn_write.c`` (an LD_PRELOAD shim, built with gcc):
the N-th write of a whole block over existing file bytes writes only its first half, then the
process SIGKILLs itself. The script tears a sample of a writer's block overwrites, one per run
from the same starting file, and counts the files DuckDB refuses; with ``--repair`` it also
opens each through newsledger's ``connect_with_retry`` (which sets the torn block's checksum
and checks that it is a metadata block) and checks the content is intact.
Measured 2026-12-02 on this machine: 35 of 106 torn writes left a file DuckDB refuses; with the
repair, all 35 open with every committed row (the unchanged tables whole, the changed table a
prefix of its commits).

Run: python tests/benchmarks/repro_duckdb_torn_metadata.py [--repair]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from torn_writes import build_tear_library, count_overwrites, tear_env

SETUP = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1], config={"checkpoint_threshold": "0b"})
conn.execute("CREATE TABLE docs (id VARCHAR PRIMARY KEY, n INTEGER, body VARCHAR)")
for t in range(20):
    conn.execute(f"CREATE TABLE static{t} AS "
                 "SELECT range AS id, 'word ' || range AS w FROM range(5000)")
for i in range(30):
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                     [(f"d{i}-{j}", j, ("lorem %d %d " % (i, j)) * 50) for j in range(25)])
conn.close()
"""

# Each row its own transaction (executemany without BEGIN), each commit checkpointed.
STEP = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1], config={"checkpoint_threshold": "0b"})
for i in range(100, 103):
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                     [(f"d{i}-{j}", j, ("ipsum %d %d " % (i, j)) * 50) for j in range(25)])
conn.close()
"""


def refusal(path: Path) -> str | None:
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as error:
        return str(error)
    return None


def intact(path: Path) -> bool:
    """Open through newsledger (repairing a torn metadata block) and check the content."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shim"))
    from newsledger.tasks.store import connect_with_retry

    conn = connect_with_retry(path, read_only=False, timeout=5)
    try:
        statics = [
            conn.execute(f"SELECT count(*), sum(id) FROM static{t}").fetchone() for t in range(20)
        ]
        docs = conn.execute(
            "SELECT count(*) AS n, count(*) FILTER (WHERE id = 'd' || split_part(body, ' ', 2) "
            "|| '-' || split_part(body, ' ', 3)) AS whole FROM docs"
        ).fetchone()
    finally:
        conn.close()
    assert docs is not None
    return set(statics) == {(5000, 12497500)} and docs[0] == docs[1] and 750 <= docs[0] <= 825


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repair", action="store_true", help="also check newsledger's repair")
    parser.add_argument("--every", type=int, default=2, help="tear every N-th block overwrite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        library = build_tear_library(folder)
        base, db = folder / "base.duckdb", folder / "torn.duckdb"
        subprocess.run([sys.executable, "-c", SETUP, str(base)], check=True)
        shutil.copy(base, db)
        counted = subprocess.run(
            [sys.executable, "-c", STEP, str(db)],
            env=tear_env(library, dict(os.environ), at=None, log=True),
            capture_output=True,
            text=True,
            check=True,
        )
        overwrites = count_overwrites(counted.stderr)
        refused = repaired = tears = 0
        for at in range(1, overwrites + 1, args.every):
            shutil.copy(base, db)
            for leftover in (Path(f"{db}.wal"), Path(f"{db}.repairs.jsonl")):
                leftover.unlink(missing_ok=True)
            subprocess.run(
                [sys.executable, "-c", STEP, str(db)],
                env=tear_env(library, dict(os.environ), at=at),
                check=False,
            )
            tears += 1
            error = refusal(db)
            if error is None:
                continue
            refused += 1
            print(f"tear {at}: {error}")
            if args.repair and intact(db):
                repaired += 1
        print(
            f"duckdb {duckdb.__version__}: {refused} of {tears} torn block writes left a file "
            "DuckDB refuses" + (f"; {repaired} of them repaired intact" if args.repair else "")
        )


if __name__ == "__main__":
    main()
