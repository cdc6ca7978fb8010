"""Short writes in practice: two `newsledger ingest` processes into one ledger at once (plus a
`newsledger sql` reader meanwhile), and ingests killed with SIGKILL at several points.

Everything runs as real subprocesses of the CLI against one real DuckDB file. The ledger lives
on tmpfs when there is one: a killed process leaves its writes in the page cache either way, so
a SIGKILL test means the same there, and every close's sync costs far less."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from newsledger.tasks.load import discover_files
from newsledger.tasks.models import LastObservation
from newsledger.tasks.pipeline import ingest_paths, plan_batches
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import migrations

pytestmark = pytest.mark.slow

FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
BATCH = 20


@pytest.fixture
def work() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=FAST_TMP, prefix="newsledger-test-") as tmp:
        yield Path(tmp)


def cli(db: Path, *args: str, batch_size: int | None = None) -> list[str]:
    return [sys.executable, "-m", "newsledger.flows.cli", "--db", str(db), *args]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))}
    env.update(extra)
    return env


def text_story(label: str, version: int) -> str:
    extra = "" if version == 1 else f"\n\nUpdate {version}: officials confirmed the {label} vote."
    return (
        f"date 2025-01-02 By Ann Lee and Bo Chan, Reuters\n\n"
        f"(Reuters) — Story {label} begins here. The council met on Tuesday and voted to "
        f"rebuild the harbour wall.\n\nA second paragraph of story {label}, with a few more "
        f"words for the reader.{extra}\n"
    )


def html_story(label: str) -> str:
    return (
        f"<html lang='en'><head><title>Story {label}</title>"
        f"<meta name='author' content='Ann Lee'></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article>"
        f"<h1>Story {label}</h1><p>The council met on Tuesday to discuss story {label}, and "
        f"voted to rebuild the harbour wall before the winter storms arrive.</p>"
        f"<p>Residents of {label} street said they were relieved that the work would finally "
        f"begin after two years of debate.</p></article>"
        f"<footer>Copyright 2025</footer></body></html>"
    )


def read_when_unlocked(db: Path, sql: str, timeout: float = 60.0) -> list[tuple[Any, ...]]:
    """A read-only query, retrying while a writer holds the file lock."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with duckdb.connect(str(db), read_only=True) as conn:
                return conn.execute(sql).fetchall()
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# --------------------------------------------------------------------------- two writers


def test_two_ingests_at_once_and_a_reader_meanwhile(work: Path) -> None:
    db = work / "ledger.duckdb"
    folders = {"left": work / "left", "right": work / "right"}
    for side, folder in folders.items():
        folder.mkdir()
        for i in range(150):
            if i % 3 == 0:
                (folder / f"{side}-{i:03}.html").write_text(html_story(f"{side}{i}"))
            else:
                (folder / f"{side}-{i:03}.txt").write_text(text_story(f"{side}{i}", 1))
    env = cli_env(NEWSLEDGER_BATCH_SIZE="25")
    writers = [
        subprocess.Popen(
            cli(db, "ingest", str(folder), "--local", "--no-show"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in folders.values()
    ]
    try:
        while not db.exists() and all(w.poll() is None for w in writers):
            time.sleep(0.01)
        writers_running = sum(w.poll() is None for w in writers)
        reader = subprocess.run(
            cli(db, "sql", "select count(*) as stored from revisions", "--format", "csv"),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        results = [w.communicate(timeout=120) for w in writers]
    finally:
        for w in writers:
            w.kill()
            w.wait()

    assert writers_running >= 1  # the reader really ran while an ingest was going on
    assert reader.returncode == 0, reader.stderr
    header, count = reader.stdout.split()
    assert header == "stored" and 0 <= int(count) <= 300
    for writer, (stdout, stderr) in zip(writers, results, strict=True):
        assert writer.returncode == 0, stderr
        assert "150" in stdout

    assert read_when_unlocked(db, "SELECT count(*), count(DISTINCT identity) FROM articles") == [
        (300, 300)
    ]
    assert read_when_unlocked(
        db, "SELECT count(*), count(DISTINCT (article_id, revision)), max(revision) FROM revisions"
    ) == [(300, 300, 1)]
    assert read_when_unlocked(
        db, "SELECT outcome, count(*) FROM observations GROUP BY outcome"
    ) == [("new", 300)]
    runs = read_when_unlocked(
        db, "SELECT status, new_count, failed_count FROM ingest_runs ORDER BY run_id"
    )
    assert runs == [("completed", 150, 0), ("completed", 150, 0)]
    stored = {r[0] for r in read_when_unlocked(db, "SELECT source FROM revisions")}
    on_disk = {str(p) for folder in folders.values() for p in folder.iterdir()}
    assert stored == on_disk


# --------------------------------------------------------------------------- SIGKILL


def check_consistent(db: Path, folder: Path | None = None) -> dict[str, int]:
    """What must hold after any crash. Returns a few counts."""
    counts = {
        table: read_when_unlocked(db, f"SELECT count(*) FROM {table}")[0][0]
        for table in (
            "articles",
            "article_identities",
            "revisions",
            "observations",
            "failures",
            "ingest_runs",
            "latest_revisions",
            "article_history",
        )
    }
    # Full scans of every column decode.
    read_when_unlocked(
        db, "SELECT sum(length(text)), sum(len(authors)), count(metadata) FROM revisions"
    )
    # Every revision was observed as new/revised by the run that stored it, and vice versa.
    assert read_when_unlocked(
        db,
        """
        SELECT count(*) FROM revisions r
        WHERE NOT EXISTS (
            SELECT 1 FROM observations o
            WHERE o.article_id = r.article_id AND o.revision = r.revision
              AND o.run_id = r.run_id AND o.outcome IN ('new', 'revised')
              AND o.content_hash = r.content_hash)""",
    ) == [(0,)]
    assert read_when_unlocked(
        db,
        """
        SELECT count(*) FROM observations o
        WHERE o.outcome IN ('new', 'revised') AND NOT EXISTS (
            SELECT 1 FROM revisions r
            WHERE r.article_id = o.article_id AND r.revision = o.revision)""",
    ) == [(0,)]
    # Revision numbers are 1..n per article, no gaps; every article has one.
    assert read_when_unlocked(
        db,
        """
        SELECT count(*) FROM (
            SELECT article_id FROM revisions GROUP BY article_id
            HAVING min(revision) <> 1 OR max(revision) <> count(*))""",
    ) == [(0,)]
    assert counts["latest_revisions"] == counts["articles"]
    # Batches are all or nothing: a run that did not finish stored whole batches only, i.e.
    # its observation count falls on a boundary of the batches the pipeline planned for it.
    per_run = read_when_unlocked(
        db,
        """
        SELECT o.run_id, count(*), any_value(r.started_at)
        FROM observations o JOIN ingest_runs r USING (run_id)
        WHERE r.status <> 'completed' GROUP BY ALL""",
    )
    for _run, stored, started in per_run:
        assert folder is not None
        assert stored in planned_boundaries(db, folder, started), (stored, started)
    return counts


def planned_boundaries(db: Path, folder: Path, started: Any) -> set[int]:
    """Cumulative sizes of the batches ``plan_batches`` makes for an ingest of ``folder`` that
    started at ``started`` (files observed before then count as seen)."""
    seen = {
        row[0]
        for row in read_when_unlocked(
            db,
            f"SELECT DISTINCT input FROM observations WHERE outcome <> 'failed' "
            f"AND observed_at < '{started.isoformat()}'::TIMESTAMPTZ",
        )
    }
    inputs = [
        replace(item, last=LastObservation(None, None, None)) if str(item.path) in seen else item
        for item in discover_files([str(folder)]).inputs
    ]
    boundaries, total = {0}, 0
    for batch in plan_batches(inputs, BATCH):
        total += len(batch)
        boundaries.add(total)
    return boundaries


def kill_when(process: subprocess.Popen[str], db: Path, sql: str, threshold: int) -> int:
    """SIGKILL the process as soon as ``sql`` (a count) reaches ``threshold``."""
    while True:
        value = read_when_unlocked(db, sql)[0][0]
        if value >= threshold or process.poll() is not None:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return value


def test_sigkill_at_several_points_leaves_a_consistent_ledger_that_converges(
    work: Path,
) -> None:
    folder = work / "articles"
    folder.mkdir()
    files = [folder / f"story-{i:04}.txt" for i in range(600)]
    db = work / "ledger.duckdb"
    # A quarter of the stories already have a first revision, so the killed runs store both
    # new articles and second revisions.
    for path in files[::4]:
        path.write_text(text_story(path.stem, 1))
    ingest_paths([str(folder)], Settings(db=db, batch_size=BATCH))
    baseline = check_consistent(db, folder)
    assert baseline["revisions"] == 150
    for path in files:
        path.write_text(text_story(path.stem, 2))

    env = cli_env(NEWSLEDGER_BATCH_SIZE=str(BATCH))
    command = cli(db, "ingest", str(folder), "--local", "--no-show")
    # Kill points: right after the run is recorded (before its first batch), then once some
    # batches of the run are stored, then well into the run.
    points = [
        ("SELECT count(*) FROM ingest_runs", baseline["ingest_runs"] + 1),
        ("SELECT count(*) FROM observations", baseline["observations"] + 3 * BATCH),
        ("SELECT count(*) FROM observations", baseline["observations"] + 12 * BATCH),
    ]
    seen_revisions = [baseline["revisions"]]
    for sql, threshold in points:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        kill_when(process, db, sql, threshold)
        assert process.returncode == -signal.SIGKILL, "the ingest ended before it was killed"
        counts = check_consistent(db, folder)
        seen_revisions.append(counts["revisions"])
        statuses = read_when_unlocked(
            db, "SELECT status, count(*) FROM ingest_runs GROUP BY status ORDER BY status"
        )
        assert ("running", 1) in statuses  # the killed run, until the next run notices
        # The ledger can also be opened for writing after the crash.
        with duckdb.connect(str(db)) as conn:
            assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
                len(migrations()),
            )
    assert seen_revisions == sorted(seen_revisions)
    assert seen_revisions[-1] > seen_revisions[1]

    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    counts = check_consistent(db, folder)
    assert counts["articles"] == 600
    assert counts["revisions"] == 750  # 150 stories with two versions, 450 with one
    # Every file is stored exactly once in its current version.
    assert read_when_unlocked(
        db,
        """
        SELECT count(*), count(DISTINCT article_id), min(text LIKE '%Update 2:%')
        FROM latest_revisions""",
    ) == [(600, 600, True)]
    assert read_when_unlocked(
        db,
        """
        SELECT count(*) FROM (SELECT article_id, content_hash FROM revisions
                              GROUP BY ALL HAVING count(*) > 1)""",
    ) == [(0,)]
    assert read_when_unlocked(
        db,
        """
        SELECT max(revision), count(*) FILTER (WHERE revision = 2) FROM revisions""",
    ) == [(2, 150)]
    statuses = read_when_unlocked(
        db, "SELECT status, count(*) FROM ingest_runs GROUP BY status ORDER BY status"
    )
    assert statuses == [("completed", 2), ("crashed", 3)]
