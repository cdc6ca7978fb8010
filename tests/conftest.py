"""Shared fixtures: a real DuckDB file per test, settings bound to it, the repo on the path."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIM = REPO_ROOT / "tests" / "shim"
sys.path.insert(0, str(SHIM))
# Subprocesses (CLI tests) import the same working tree.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(SHIM), *filter(None, [os.environ.get("PYTHONPATH")])]
)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Wide tables in every test process (xdist workers have no terminal; tmp paths are long there).
os.environ["COLUMNS"] = "250"

from fixture_site import FixtureSite, dialled, site  # noqa: E402, F401
from newsledger.tasks.settings import Settings  # noqa: E402
from prefect_server import prefect_server  # noqa: E402, F401


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.duckdb"


@pytest.fixture
def settings(db_path: Path, tmp_path: Path) -> Iterator[Settings]:
    yield Settings(db=db_path, prefect_home=tmp_path / ".prefect", lock_timeout_seconds=30)
