"""A torn block write on demand, for the tests and the DuckDB reproduction: ``torn_write.c``
built as an LD_PRELOAD library (gcc; ``.ci/run`` installs it when missing)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("torn_write.c")


def build_tear_library(folder: Path) -> Path:
    """Compile the shim into ``folder`` and return the library's path."""
    library = folder / "torn_write.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(SOURCE), "-ldl"],
        check=True,
        capture_output=True,
    )
    return library


def tear_env(
    library: Path, env: dict[str, str], *, at: int | None, log: bool = False
) -> dict[str, str]:
    """``env`` with the shim preloaded: the ``at``-th block overwrite is torn (None: none is,
    and with ``log`` every overwrite is printed to stderr, to count them)."""
    extra = {"LD_PRELOAD": str(library), "TEAR_AT": str(at if at is not None else 1 << 40)}
    if log:
        extra["TEAR_LOG"] = "1"
    return {**env, **extra}


def count_overwrites(stderr: str) -> int:
    return sum(line.startswith("overwrite ") for line in stderr.splitlines())
