"""Issue 13, defect 1 (second form): a writer killed in the middle of a checkpoint's block write.

DuckDB 1.5.5 writes a metadata block back in place when its checkpoint put new metadata in the
block's free sub-blocks; the block's other sub-blocks still belong to the durable checkpoint. A
`kill -9` inside that `pwrite` leaves the block torn, and DuckDB then refuses the whole file
("Corrupt database file: computed checksum … in block at location …"). The random-kill test met
it once in ~100 kills; here a preloaded shim (tests/torn_write.c) tears chosen block writes of a
real ingest so that each case happens every run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from newsledger.tasks import torn_blocks
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import connect_with_retry
from test_concurrency_and_crash import cli, cli_env, text_story
from test_kill_ledger import content
from torn_writes import build_tear_library, count_overwrites, tear_env

pytestmark = pytest.mark.slow

STORIES = 8
BATCH = "3"  # three batches: some tables change in a checkpoint, others do not
TEARS = 7  # tears spread over the revising ingest's block overwrites


def write_versions(folder: Path, version: int) -> None:
    folder.mkdir(exist_ok=True)
    for n in range(STORIES):
        (folder / f"s{n}.txt").write_text(text_story(f"s{n}", version), encoding="utf-8")


def refused_by_duckdb(db: Path) -> str | None:
    """DuckDB's own error on opening ``db`` (as any tool would), or None if it opens."""
    try:
        duckdb.connect(str(db), read_only=True).close()
    except duckdb.Error as error:
        return str(error)
    return None


def test_a_writer_killed_inside_a_block_write_leaves_a_ledger_the_next_run_uses(
    tmp_path: Path,
) -> None:
    """Each torn block write of a revising ingest: the next run succeeds (repairing a torn
    metadata block when DuckDB refuses the file), and the ledger then equals a clean run's."""
    library = build_tear_library(tmp_path)
    folder, base, db = tmp_path / "in", tmp_path / "base.duckdb", tmp_path / "ledger.duckdb"
    clean = tmp_path / "clean.duckdb"
    write_versions(folder, 1)
    ingest_paths([str(folder)], Settings(db=clean))
    ingest_paths([str(folder)], Settings(db=base))
    write_versions(folder, 2)
    ingest_paths([str(folder)], Settings(db=clean))
    expected = content(clean)

    shutil.copy(base, db)
    counted = subprocess.run(
        cli(db, "ingest", str(folder), "--local"),
        env=tear_env(library, cli_env(NEWSLEDGER_BATCH_SIZE=BATCH), at=None, log=True),
        capture_output=True,
        text=True,
        check=True,
    )
    overwrites = count_overwrites(counted.stderr)
    assert overwrites >= TEARS

    refusals: list[str] = []
    for at in sorted({1 + k * (overwrites - 1) // (TEARS - 1) for k in range(TEARS)}):
        shutil.copy(base, db)
        for leftover in (Path(f"{db}.wal"), torn_blocks.repairs_log(db)):
            leftover.unlink(missing_ok=True)
        torn = subprocess.run(
            cli(db, "ingest", str(folder), "--local"),
            env=tear_env(library, cli_env(NEWSLEDGER_BATCH_SIZE=BATCH), at=at),
            capture_output=True,
        )
        assert torn.returncode == -9, f"tear {at} of {overwrites} did not happen"
        refusal = refused_by_duckdb(db)
        if refusal is not None:
            assert torn_blocks.TORN_BLOCK_MESSAGE.search(refusal), refusal
            refusals.append(refusal)

        summary = ingest_paths([str(folder)], Settings(db=db))
        assert summary.failed == 0
        assert content(db) == expected, f"tear {at} of {overwrites}"
        assert refused_by_duckdb(db) is None
        log = torn_blocks.repairs_log(db)
        if refusal is not None:
            (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
            assert entry["undone"] is False and str(entry["location"]) in refusal
        else:
            assert not log.exists()
    # The case this test exists for happened (without the repair these ledgers are lost).
    assert refusals


def test_only_metadata_blocks_pass_the_check_and_a_repair_can_be_undone(tmp_path: Path) -> None:
    """The repair is for the metadata blocks a checkpoint rewrites in place. A *data* block that
    fails its checksum (real damage, met by a query, not at open) is parsed from DuckDB's error
    and checked against the file's headers like any other, but is not a metadata block, so
    connect_with_retry would undo and refuse; undo puts the file back byte for byte."""
    db = tmp_path / "ledger.duckdb"
    write_versions(tmp_path / "in", 1)
    ingest_paths([str(tmp_path / "in")], Settings(db=db))
    with duckdb.connect(str(db), read_only=True) as conn:
        data_block = conn.execute(
            "SELECT min(block_id) AS block_id FROM pragma_storage_info('revisions') "
            "WHERE block_id >= 0 AND block_id NOT IN (SELECT block_id FROM pragma_metadata_info())"
        ).fetchone()
    assert data_block is not None and data_block[0] is not None
    location = torn_blocks.FIRST_BLOCK_OFFSET + data_block[0] * 262144
    with db.open("r+b") as file:  # damage a byte of the block's payload
        file.seek(location + 64)
        byte = file.read(1)
        file.seek(location + 64)
        file.write(bytes([byte[0] ^ 0xFF]))
    damaged = db.read_bytes()

    conn = connect_with_retry(db, read_only=True, timeout=5)
    with pytest.raises(duckdb.IOException) as refused:
        conn.execute("SELECT * FROM revisions").fetchall()
    block = torn_blocks.torn_block(db, refused.value)
    assert block is not None and block.block_id == data_block[0]
    assert not torn_blocks.is_metadata_block(conn, block)
    conn.close()

    torn_blocks.repair(db, block)
    assert db.read_bytes() != damaged
    torn_blocks.undo(db, block)
    assert db.read_bytes() == damaged
    entries = [json.loads(line) for line in torn_blocks.repairs_log(db).read_text().splitlines()]
    assert [entry["undone"] for entry in entries] == [False, True]
    assert torn_blocks.torn_block(db, RuntimeError("Conflicting lock is held")) is None
