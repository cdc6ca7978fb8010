"""Measurement of `newsledger sql` limits (issue 13 #5): wall time, peak RSS and exit status of
the CLI for the issue's four cases. Not collected by pytest. From the repository root:

    .venv/bin/python tests/benchmarks/bench_sql_limits.py LEDGER [--guard-gb 8] [--timeout 120]

Each case is its own process, under an address-space guard (``--guard-gb``, default 8) that
keeps a regression from taking the machine's memory, killed after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SHIM = Path(__file__).resolve().parents[1] / "shim"
sys.path.insert(0, str(SHIM.parent))

from processes import run_guarded  # noqa: E402


def cases(ledger: Path) -> list[tuple[str, str]]:
    return [
        ("1e9-element list", "select len(list(range(1000000000)))"),
        ("3e9-char repeat", "select repeat('x', 3000000000)"),
        ("3 MB value in a table", "select repeat('x', 3000000) as v"),
        ("read_blob of the ledger", f"select content from read_blob('{ledger}')"),
    ]


def run(ledger: Path, statement: str, guard: int, timeout: float) -> tuple[float, float, int]:
    start = time.monotonic()
    returncode, peak_mib = run_guarded(
        [sys.executable, "-m", "newsledger.flows.cli", "--db", str(ledger), "sql", statement],
        env={**os.environ, "PYTHONPATH": str(SHIM)},
        memory_bytes=guard,
        timeout=timeout,
    )
    return time.monotonic() - start, peak_mib, returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--guard-gb", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    arguments = parser.parse_args()
    guard = int(arguments.guard_gb * 1024**3)
    print(f"{'case':<26} {'wall s':>8} {'peak RSS MB':>12} {'exit':>5}")
    for name, statement in cases(arguments.ledger.resolve()):
        wall, peak, code = run(arguments.ledger, statement, guard, arguments.timeout)
        print(f"{name:<26} {wall:8.2f} {peak:12.0f} {code:5d}")


if __name__ == "__main__":
    main()
