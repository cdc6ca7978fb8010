"""Kill `newsledger ingest` with SIGKILL at random moments and check the ledger each time.

Prints, per kill: whether a leftover .wal was there, whether the ledger is consistent (every
stored article found by `article_id = X` as often as by `article_id || '' = X`, no duplicate
keys) and whether the next run succeeded. Usage:
    PYTHONPATH=tests/shim python tests/benchmarks/kill_ledger.py FILES BATCH KILLS [SEED]
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def story(label: str) -> str:
    return (
        f"date 2025-01-02 By Ann Lee, Reuters\n\n(Reuters) — Story {label} begins here. The "
        f"council met on Tuesday and voted on {label}.\n\nA second paragraph of {label}.\n"
    )


def write_corpus(corpus: Path, part: int, files: int) -> None:
    (corpus / f"p{part:03d}").mkdir()
    for n in range(files):
        (corpus / f"p{part:03d}" / f"s{n:05d}.txt").write_text(
            story(f"p{part}n{n}"), encoding="utf-8"
        )


def env(batch: int) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))}
    e["NEWSLEDGER_BATCH_SIZE"] = str(batch)
    return e


def cmd(db: Path, corpus: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "newsledger.flows.cli",
        "--db",
        str(db),
        "ingest",
        str(corpus),
        "--local",
    ]


def inconsistent(db: Path) -> int:
    """Articles whose keyed lookup (`article_id = ?`, one query per key, so no join can
    rewrite it) counts other revisions than a forced scan (`article_id || ''`)."""
    with duckdb.connect(str(db), read_only=True) as conn:
        scanned = conn.execute(
            "SELECT article_id || '', count(*) FROM revisions GROUP BY ALL"
        ).fetchall()
        return sum(
            conn.execute("SELECT count(*) FROM revisions WHERE article_id = ?", [key]).fetchone()[0]
            != count
            for key, count in scanned
        )


def main() -> None:
    files, batch, kills = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as tmp:
        corpus, db = Path(tmp) / "in", Path(tmp) / "l.duckdb"
        corpus.mkdir()
        write_corpus(corpus, 0, files)
        start = time.monotonic()
        subprocess.run(
            cmd(Path(tmp) / "clean.duckdb", corpus), env=env(batch), check=True, capture_output=True
        )
        clean = time.monotonic() - start
        wedged = bad = 0
        for k in range(kills):
            write_corpus(corpus, k + 1, files)  # new files, so every run has work to kill
            proc = subprocess.Popen(
                cmd(db, corpus),
                env=env(batch),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.5, clean))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            wal = Path(str(db) + ".wal").exists()
            keep = os.environ.get("KILL_LEDGER_KEEP")
            if keep and wal:  # the killed ledger as it was, before anything reopens it
                dest = Path(keep) / f"kill{k:03d}"
                dest.mkdir(parents=True, exist_ok=True)
                for name in (db.name, db.name + ".wal"):
                    shutil.copy2(db.parent / name, dest / name)
            n_bad = inconsistent(db) if db.exists() else 0
            rerun = subprocess.run(cmd(db, corpus), env=env(batch), capture_output=True, text=True)
            bad += n_bad > 0
            wedged += rerun.returncode != 0
            print(
                f"kill {k}: wal={wal} inconsistent_articles={n_bad} rerun_rc={rerun.returncode}"
                + (" repaired" if "newsledger: rebuilt the article indexes" in rerun.stderr else "")
                + (f" {rerun.stderr.strip().splitlines()[-1][:200]}" if rerun.returncode else ""),
                flush=True,
            )
        print(
            f"files={files} batch={batch} kills={kills} clean_run={clean:.1f}s "
            f"inconsistent={bad} wedged={wedged}"
        )


if __name__ == "__main__":
    main()
