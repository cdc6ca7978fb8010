"""Issue 13, defect 1: a `kill -9` of an ingest must never wedge the ledger.

Real `newsledger ingest --local` processes are SIGKILLed at seeded-random moments after they
have opened the ledger (batch sizes 1, 25 and 250); after each kill the next run (on the same
file) must succeed, and at the end the ledger's content equals a clean run's over the same
files. The three batch sizes run at once, each in a process of its own on its own ledger."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import os
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
from processes import has_open
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


def add_round(corpus: Path, label: str) -> list[Path]:
    folder = corpus / label
    folder.mkdir()
    paths = [folder / f"s{n:02d}.txt" for n in range(FILES_PER_ROUND)]
    for n, path in enumerate(paths):
        path.write_text(text_story(f"{label}-{n}", 1), encoding="utf-8")
    return paths


def revise(paths: list[Path], version: int) -> None:
    for path in paths:
        label = f"{path.parent.name}-{int(path.stem[1:])}"
        path.write_text(text_story(label, version), encoding="utf-8")


def warm_processes() -> multiprocessing.context.ForkServerContext:
    """Processes forked from a server that has imported the CLI once (a fresh interpreter that
    never opened a ledger), so each killed ingest starts in milliseconds, not the ~1 s of an
    interpreter start and its imports, and the rounds' time goes to writing."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["newsledger.flows.cli", "test_kill_ledger"])
    return context


def run_cli_ingest(db: Path, corpus: Path, batch: int) -> None:
    """`newsledger --db DB ingest CORPUS --local` with NEWSLEDGER_BATCH_SIZE=batch, in this
    (forked) process, its environment as cli_env() gives a subprocess."""
    for name in [name for name in os.environ if name.startswith(("NEWSLEDGER_", "PREFECT_"))]:
        del os.environ[name]
    os.environ["NEWSLEDGER_BATCH_SIZE"] = str(batch)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.argv = ["newsledger", "--db", str(db), "ingest", str(corpus), "--local"]
    from newsledger.flows.cli import main

    main()


def kill_once_writing(
    proc: multiprocessing.process.BaseProcess, db: Path, rng: random.Random
) -> bool:
    """SIGKILL ``proc`` at a random moment of up to ``KILL_WINDOW_SECONDS`` after it first holds
    ``db`` open (a delay counted from its start could land before any write), or at once if it
    ends or never opens it. True if the kill landed in a process that had opened the ledger."""
    assert proc.pid is not None
    deadline = time.monotonic() + OPEN_TIMEOUT_SECONDS
    opened = False
    while proc.is_alive() and time.monotonic() < deadline:
        opened = has_open(proc.pid, db)
        if opened:
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0, KILL_WINDOW_SECONDS))
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    return opened and proc.exitcode == -signal.SIGKILL


KILL_WINDOW_SECONDS = 0.5  # a one-story-per-round ingest writes for a few tenths of a second
OPEN_TIMEOUT_SECONDS = 20.0


def random_kills(folder: Path, batch: int, kills: int, seed: int) -> None:
    """``kills`` rounds at one batch size on a ledger of its own: each round adds new files and
    revises half of the previous round's, starts an ingest, kills it while it writes, and runs
    the next ingest (which must succeed); at the end the ledger equals a clean run's over the
    same files."""
    rng = random.Random(seed)
    warm = warm_processes()
    corpus, db = folder / f"corpus-{batch}", folder / f"ledger-{batch}.duckdb"
    corpus.mkdir()
    failures: list[str] = []
    landed = 0  # kills that hit an ingest with the ledger open (not one that had ended)
    revised: list[Path] = []
    previous: list[Path] = []
    for kill in range(kills):
        revise(previous[: FILES_PER_ROUND // 2], 2)
        revised += previous[: FILES_PER_ROUND // 2]
        previous = add_round(corpus, f"b{batch}-k{kill:02d}")
        proc = warm.Process(target=run_cli_ingest, args=(db, corpus, batch))
        proc.start()
        landed += kill_once_writing(proc, db, rng)
        try:
            summary = ingest_paths([str(corpus)], Settings(db=db, batch_size=batch))
        except Exception as error:  # the wedge: every later run fails
            failures.append(f"batch {batch} kill {kill}: {type(error).__name__}: {error}")
            continue
        if summary.failed:
            failures.append(f"batch {batch} kill {kill}: {summary.failed} inputs failed")
    assert failures == []
    print(f"batch {batch}: {landed} of {kills} kills landed in a running ingest")
    assert landed >= kills // 2, f"only {landed} of {kills} kills landed in a running ingest"
    clean = folder / f"clean-{batch}.duckdb"
    revise(revised, 1)
    ingest_paths([str(corpus)], Settings(db=clean, batch_size=25))
    revise(revised, 2)
    ingest_paths([str(corpus)], Settings(db=clean, batch_size=25))
    expected = content(clean)
    assert len(expected["revisions"]) == FILES_PER_ROUND * kills + len(revised)
    assert content(db) == expected


# One batch size's kills in a process of its own: python -c RANDOM_KILLS FOLDER BATCH KILLS SEED
RANDOM_KILLS = """
import sys
from pathlib import Path
from test_kill_ledger import random_kills
random_kills(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
"""


@pytest.mark.timeout(1800)  # 104 kills: a few minutes on a quiet host
def test_random_kills_never_wedge_the_ledger(work: Path) -> None:  # noqa: F811
    """104 kills at batch sizes 1, 25 and 250 (a ledger each, so each ingest reads only its
    own rounds' files), landing in batches that store new stories and ones that revise."""
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    streams = {
        batch: subprocess.Popen(
            [
                sys.executable,
                "-c",
                RANDOM_KILLS,
                str(work),
                str(batch),
                str(kills),
                str(13 + batch),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for batch, kills in KILLS.items()
    }
    outputs = {
        batch: proc.communicate()[0].decode(errors="replace") for batch, proc in streams.items()
    }
    failed = {
        batch: outputs[batch][-4000:] for batch, proc in streams.items() if proc.returncode != 0
    }
    assert failed == {}
    print("".join(outputs.values()))


KILLED_IN_CHECKPOINT = """
import os, sys
from pathlib import Path
from newsledger.tasks.pipeline import discover, new_run_id, prepare_file_batch
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import begin_run, write_batch
settings = Settings(db=Path(sys.argv[1]))
stage, wal_writer = sys.argv[3], sys.argv[4] == "wal"
run_id = new_run_id()
begin_run(settings, run_id, "ingest_files", orchestrator="local", arguments={})
items = prepare_file_batch(settings, discover([sys.argv[2]], settings).inputs)

def die_in_the_next_checkpoint(conn, outcomes):
    if wal_writer:  # as newsledger wrote before: the commit goes to the WAL, the close checkpoints
        conn.execute("SET checkpoint_threshold = '1GB'")
    conn.execute(f"SET debug_checkpoint_abort = '{stage}'")

# The next checkpoint (the commit's own, or the close's for a WAL writer) stops at the given
# stage, as a kill there would, and the process ends without another write.
try:
    write_batch(settings, run_id, items, before_commit=die_in_the_next_checkpoint)
except Exception:
    pass  # the commit's checkpoint failed: that write was never acknowledged
os._exit(0)
"""

# duckdb 1.5.5's checkpoint stages (`debug_checkpoint_abort`) that one writer reaches.
CHECKPOINT_STAGES = ["before_header", "after_free_list_write", "before_truncate"]


def kill_in_checkpoint(db: Path, folder: Path, stage: str, *, wal_writer: bool) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_IN_CHECKPOINT,
            str(db),
            str(folder),
            stage,
            "wal" if wal_writer else "current",
        ],
        check=True,
    )


def open_and_close(db: Path) -> None:
    """What any other read-write opener does (the duckdb shell, a script, an older newsledger
    writer): replay a leftover WAL, and checkpoint at close."""
    duckdb.connect(str(db)).close()


def unfindable(db: Path) -> int:
    """Stories whose keyed lookup (`article_id = ?`, one query per key) counts other revisions
    than a full scan (`article_id || ''`)."""
    with duckdb.connect(str(db), read_only=True) as conn:
        scanned = conn.execute("SELECT article_id || '', count(*) FROM revisions GROUP BY ALL")
        return sum(
            conn.execute("SELECT count(*) FROM revisions WHERE article_id = ?", [key]).fetchone()
            != (count,)
            for key, count in scanned.fetchall()
        )


def write_versions(folder: Path, version: int) -> None:
    folder.mkdir(exist_ok=True)
    for n in range(FILES_PER_ROUND):
        (folder / f"s{n}.txt").write_text(text_story(f"s{n}", version), encoding="utf-8")


def clean_ledger(base: Path, folder: Path, versions: int) -> Path:
    clean = base / "clean.duckdb"
    for version in range(1, versions + 1):
        write_versions(folder, version)
        ingest_paths([str(folder)], Settings(db=clean))
    return clean


@pytest.mark.parametrize("stage", CHECKPOINT_STAGES)
def test_a_writer_killed_in_a_checkpoint_is_recovered_by_the_next_run(
    work: Path,  # noqa: F811
    stage: str,
) -> None:
    """A writer killed in the checkpoint of a batch that revised stored stories leaves a WAL;
    the next run checkpoints it at once (before any close could lose index entries), finds
    every revision, and its content equals a clean run's."""
    folder, db = work / "in", work / "ledger.duckdb"
    clean = clean_ledger(work, folder, 2)
    write_versions(folder, 1)
    ingest_paths([str(folder)], Settings(db=db))
    write_versions(folder, 2)
    kill_in_checkpoint(db, folder, stage, wal_writer=True)

    summary = ingest_paths([str(folder)], Settings(db=db))
    assert summary.failed == 0
    assert unfindable(db) == 0
    assert content(db) == content(clean)


def damaged_ledger(base: Path, folder: Path) -> Path:
    """A ledger really damaged by duckdb 1.5.5: a WAL writer (as newsledger was) killed in the
    checkpoint after revising stories, then another read-write open and close: the revisions
    replayed from the WAL are gone from `revisions_article_id_idx`."""
    db = base / "ledger.duckdb"
    write_versions(folder, 1)
    ingest_paths([str(folder)], Settings(db=db))
    write_versions(folder, 2)
    kill_in_checkpoint(db, folder, "before_header", wal_writer=True)
    assert Path(f"{db}.wal").exists()
    open_and_close(db)
    assert unfindable(db) == FILES_PER_ROUND  # the damage is real
    return db


def test_migration_012_repairs_a_ledger_damaged_by_the_wal_replay(work: Path) -> None:  # noqa: F811
    """The ledger as an older newsledger left it (damaged, migration 012 not applied): the next
    run rebuilds the indexes, finds every story, and stores nothing twice (it failed with
    `Duplicate key` on every run before)."""
    folder = work / "in"
    clean = clean_ledger(work, folder, 2)
    db = damaged_ledger(work, folder)
    with duckdb.connect(str(db)) as conn:  # the version before migration 012
        conn.execute("DELETE FROM schema_migrations WHERE version = 12")
        conn.execute("CHECKPOINT")

    # A new process, as after an upgrade (this one remembers having migrated the file).
    run = subprocess.run(
        cli(db, "ingest", str(folder), "--local"), env=cli_env(), capture_output=True, text=True
    )

    assert run.returncode == 0, run.stderr
    assert unfindable(db) == 0
    assert content(db) == content(clean)


KILLED_AFTER_A_COMMIT = """
import os, sys
import duckdb
conn = duckdb.connect(sys.argv[1])  # another program: default settings, its commit in the WAL
conn.execute("CREATE TABLE my_notes AS SELECT 'checked the ledger' AS note")
os._exit(0)
"""


def test_the_check_after_a_leftover_wal_rebuilds_the_indexes(
    work: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A damaged ledger (migration 012 already applied; the killed run is still marked running)
    that another program then left with a WAL too: the open that finds the WAL checkpoints it,
    sees that a keyed lookup misses revisions of the stories the unfinished run revised,
    builds the indexes again, and the run goes on. Before, the check compared one run's
    revisions with all of a story's (a false alarm for every revised story) and its repair,
    a rewrite of the rows, was refused by DuckDB (a parameter in a multi-statement string; once
    split, deleting a row whose index entry is lost is a FatalException)."""
    folder = work / "in"
    clean = clean_ledger(work, folder, 2)
    db = damaged_ledger(work, folder)
    subprocess.run([sys.executable, "-c", KILLED_AFTER_A_COMMIT, str(db)], check=True)
    assert Path(f"{db}.wal").exists()

    summary = ingest_paths([str(folder)], Settings(db=db))

    assert f"rebuilt the article indexes: {FILES_PER_ROUND} stories" in capsys.readouterr().err
    assert (summary.failed, summary.unchanged) == (0, FILES_PER_ROUND)
    assert unfindable(db) == 0
    assert content(db) == content(clean)


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
