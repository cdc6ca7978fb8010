"""Benchmark of incremental partitioned Parquet exports (issue 15: 10,000 new revisions into a
300,000-revision ledger in < 5 s).

Not collected by pytest. Run it from the repository root:

    PYTHONPATH=tests/shim .venv/bin/python tests/benchmarks/bench_export.py     # 100,000 stories
    PYTHONPATH=tests/shim .venv/bin/python tests/benchmarks/bench_export.py --stories 10000
    PYTHONPATH=tests/shim .venv/bin/python tests/benchmarks/bench_export.py --ledger /tmp/l.duckdb

The ledger is generated as in bench_query.py (``generate_ledger``: the real schema, ~3
revisions per story, ~600-word texts); with ``--ledger FILE`` it is generated there once (or
reused if there) and each run works on a copy. It prints the first (full) export, then an
incremental export after ``--new`` revisions were added, with the time of each step of it
(the pending-revisions scan, the COPY, the watermark write), and the ratio of the two; both
write outlet/day partitions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb
from bench_query import add_revisions, generate_ledger
from newsledger.tasks import exports
from newsledger.tasks.exports import export_partitioned
from newsledger.tasks.settings import Settings


def count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM revisions").fetchone()
    return int(row[0]) if row else 0


def timed_steps() -> dict[str, float]:
    """Time each step of the next export (tasks/exports.py's _begin, _write, _finish): the
    functions are wrapped for the rest of the run; the dict fills as they run."""
    seconds: dict[str, float] = {}
    for name, label in (
        ("_begin", "begin (record the export)"),
        ("_write", "pending scan + COPY"),
        ("_finish", "watermark write"),
    ):
        function = getattr(exports, name)
        original = getattr(function, "__wrapped__", function)

        def wrapper(*args: Any, _f: Any = original, _label: str = label) -> Any:
            begin = time.perf_counter()
            try:
                return _f(*args)
            finally:
                seconds[_label] = time.perf_counter() - begin

        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(exports, name, wrapper)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=10_000, help="Revisions added before the rerun")
    parser.add_argument(
        "--ledger", type=Path, help="Generate the ledger here once; copy it per run"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="newsledger-bench-export-"))
    try:
        db, out = workdir / "ledger.duckdb", workdir / "parquet"
        settings = Settings(db=db, lock_timeout_seconds=30)
        if args.ledger:
            generate_ledger(
                Settings(db=args.ledger, lock_timeout_seconds=30),
                args.stories,
                reuse=True,
                index=False,
            )
            shutil.copyfile(args.ledger, db)
        else:
            generate_ledger(settings, args.stories, reuse=False, index=False)
        print(
            f"{count(db):,} revisions of {args.stories:,} stories · {os.cpu_count()} cores · "
            f"load average {os.getloadavg()[0]:.1f}"
        )

        begin = time.perf_counter()
        full = export_partitioned(settings, out, "outlet,day")
        full_seconds = time.perf_counter() - begin
        print(
            f"  first export (everything)        {full.revisions:>9,} revisions "
            f"{full.files:>6,} files  {full_seconds:7.2f} s"
        )

        add_revisions(db, args.new)
        steps = timed_steps()
        begin = time.perf_counter()
        incremental = export_partitioned(settings, out, "outlet,day")
        incremental_seconds = time.perf_counter() - begin
        print(
            "  incremental export, by step: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
        )
        print(
            f"  incremental export (new only)    {incremental.revisions:>9,} revisions "
            f"{incremental.files:>6,} files  {incremental_seconds:7.2f} s"
            f"   ({incremental_seconds / full_seconds:.2f}× the first)"
        )

        begin = time.perf_counter()
        nothing = export_partitioned(settings, out, "outlet,day")
        print(
            f"  export with nothing new          {nothing.revisions:>9,} revisions "
            f"{nothing.files:>6,} files  {time.perf_counter() - begin:7.2f} s"
        )
        with duckdb.connect() as conn:
            row = conn.execute(
                f"SELECT count(*), count(DISTINCT (article_id, revision)) FROM read_parquet("
                f"'{out}/**/*.parquet', hive_partitioning = true)"
            ).fetchone()
        assert row is not None
        print(
            f"  rows in the folder {row[0]:,}, distinct revisions {row[1]:,} (ledger {count(db):,})"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
