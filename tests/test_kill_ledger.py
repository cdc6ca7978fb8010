"""Issue 13, defect 1: a `kill -9` of an ingest must never wedge the ledger.

Real `newsledger ingest --local` processes are SIGKILLed at seeded-random moments (batch sizes
1, 25 and 250); after each kill the next run (in this process, on the same file) must succeed,
and at the end the ledger's content equals a clean run's over the same files."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings
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
