"""Issue 13, defect 1: a `kill -9` of an ingest must never wedge the ledger.

Real `newsledger ingest --local` processes are SIGKILLed at seeded-random moments (batch sizes
1, 25 and 250); after each kill the next run (in this process, on the same file) must succeed,
and at the end the ledger's content equals a clean run's over the same files."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import ensure_ledger, migrations
from test_concurrency_and_crash import cli, cli_env, text_story, work  # noqa: F401

pytestmark = pytest.mark.slow

KILLS = {1: 30, 25: 40, 250: 34}  # 104 kills
FILES_PER_ROUND = 6

CONTENT = {
    "articles": "SELECT article_id, identity FROM articles ORDER BY ALL",
    "revisions": "SELECT article_id, revision, content_hash FROM revisions ORDER BY ALL",
    "input_state": "SELECT input, identity, raw_hash, content_hash FROM input_state ORDER BY ALL",
}


def content(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CONTENT.items()}


def add_round(corpus: Path, label: str) -> None:
    folder = corpus / label
    folder.mkdir()
    for n in range(FILES_PER_ROUND):
        (folder / f"s{n:02d}.txt").write_text(text_story(f"{label}-{n}", 1), encoding="utf-8")


@pytest.mark.timeout(900)
def test_random_kills_never_wedge_the_ledger(work: Path) -> None:  # noqa: F811
    corpus, db = work / "corpus", work / "ledger.duckdb"
    corpus.mkdir()
    rng = random.Random(13)
    failures: list[str] = []
    for batch, kills in KILLS.items():
        for kill in range(kills):
            add_round(corpus, f"b{batch}-k{kill:02d}")
            proc = subprocess.Popen(
                cli(db, "ingest", str(corpus), "--local"),
                env=cli_env(NEWSLEDGER_BATCH_SIZE=str(batch)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.3, 0.9))  # startup is ~0.6 s: most kills land in writes
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            try:
                summary = ingest_paths([str(corpus)], Settings(db=db, batch_size=batch))
            except Exception as error:  # the wedge: every later run fails
                failures.append(f"batch {batch} kill {kill}: {type(error).__name__}: {error}")
                continue
            if summary.failed:
                failures.append(f"batch {batch} kill {kill}: {summary.failed} inputs failed")
    assert failures == []
    clean = work / "clean.duckdb"
    ingest_paths([str(corpus)], Settings(db=clean, batch_size=25))
    expected = content(clean)
    assert len(expected["revisions"]) == FILES_PER_ROUND * sum(KILLS.values())
    assert content(db) == expected


KILLED_IN_CHECKPOINT = """
import os, sys
from pathlib import Path
from newsledger.tasks.pipeline import discover, new_run_id, prepare_file_batch
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import begin_run, write_batch
settings = Settings(db=Path(sys.argv[1]))
run_id = new_run_id()
begin_run(settings, run_id, "ingest_files", orchestrator="local", arguments={})
items = prepare_file_batch(settings, discover([sys.argv[2]], settings).inputs)

def die_in_the_next_checkpoint(conn, outcomes):
    conn.execute(f"SET debug_checkpoint_abort = '{sys.argv[3]}'")

# The batch commits; the checkpoint of the close after it stops at the given stage, as a kill
# there would, and the process ends without another write.
write_batch(settings, run_id, items, before_commit=die_in_the_next_checkpoint)
os._exit(0)
"""

# duckdb 1.5.5's checkpoint stages (`debug_checkpoint_abort`) reached by a one-writer close.
CHECKPOINT_STAGES = ["before_header", "after_free_list_write", "before_truncate"]


@pytest.mark.parametrize("stage", CHECKPOINT_STAGES)
def test_a_writer_killed_in_the_checkpoint_after_revising_stories(
    work: Path,  # noqa: F811
    stage: str,
) -> None:
    """The kill lands in the close-time checkpoint of a batch that revised stored stories:
    the next run opens the ledger (the check after an unclean shutdown finds nothing wrong)
    and the content equals a clean run's."""
    folder, db, clean = work / "in", work / "ledger.duckdb", work / "clean.duckdb"
    folder.mkdir()
    for version in (1, 2):
        for n in range(FILES_PER_ROUND):
            (folder / f"s{n}.txt").write_text(text_story(f"s{n}", version), encoding="utf-8")
        ingest_paths([str(folder)], Settings(db=clean))
        if version == 1:
            ingest_paths([str(folder)], Settings(db=db))
    subprocess.run(
        [sys.executable, "-c", KILLED_IN_CHECKPOINT, str(db), str(folder), stage], check=True
    )
    assert Path(f"{db}.wal").exists()  # an unclean shutdown, with the revisions in the WAL

    summary = ingest_paths([str(folder)], Settings(db=db))

    assert (summary.failed, summary.unchanged) == (0, FILES_PER_ROUND)
    assert content(db) == content(clean)
    assert len(content(db)["revisions"]) == 2 * FILES_PER_ROUND


KILLED_AFTER_MIGRATING = """
import os, sys
import duckdb
from newsledger.tasks.store import migrate
conn = duckdb.connect(sys.argv[1])
conn.execute("PRAGMA disable_checkpoint_on_shutdown")  # as if killed before the close
migrate(conn)
os._exit(0)
"""


def test_a_writer_killed_right_after_migrating_leaves_an_openable_ledger(tmp_path: Path) -> None:
    """duckdb 1.5.5 cannot replay migration 004's ALTER TABLE from the WAL ("GetDefaultDatabase
    with no default database set"): migrations are checkpointed at once, never left there."""
    db = tmp_path / "ledger.duckdb"
    subprocess.run([sys.executable, "-c", KILLED_AFTER_MIGRATING, str(db)], check=True)
    summary = ingest_paths([str(tmp_path / "none")], Settings(db=db))
    assert summary.failed == 1  # the missing folder, recorded: the ledger opened
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(migrations()),
        )


def test_a_new_ledger_is_created_whole_or_not_at_all(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "ledger.duckdb"
    applied = ensure_ledger(Settings(db=db))
    assert applied == [version for version, _, _ in migrations()]
    assert not Path(f"{db}.wal").exists()
    assert sorted(p.name for p in db.parent.iterdir()) == ["ledger.duckdb"]
