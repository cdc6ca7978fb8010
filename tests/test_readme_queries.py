"""Every ```sql block of the README's "## Querying" section (docs_querying.md until it is pasted
into the README) runs without error on the ledger that the README's main command builds
(`newsledger ingest seeds/`), through the same locked-down connection as `newsledger sql`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.query import run_sql
from newsledger.tasks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)


def querying_section() -> tuple[str, str]:
    """(where it came from, the text of the "## Querying" section)."""
    for name in ("README.md", "docs_querying.md"):
        path = REPO_ROOT / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        match = re.search(r"^## Querying\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
        if match:
            return name, match.group(1)
    raise AssertionError("neither README.md nor docs_querying.md has a '## Querying' section")


SOURCE, SECTION = querying_section()
BLOCKS = [block.strip() for block in SQL_BLOCK.findall(SECTION)]


def test_the_section_answers_ten_questions_in_sql() -> None:
    assert len(BLOCKS) >= 10, f"{SOURCE} has {len(BLOCKS)} sql blocks under '## Querying'"


@pytest.fixture(scope="module")
def seeds_ledger(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO_ROOT / "seeds", root / "seeds")
    settings = Settings(db=root / "data" / "newsledger.duckdb", lock_timeout_seconds=30)
    summary = ingest_paths([str(root / "seeds")], settings)
    assert summary.new >= 1
    return settings


@pytest.mark.parametrize("block", BLOCKS, ids=[f"query{i + 1}" for i in range(len(BLOCKS))])
def test_query_runs_on_the_seeds_ledger(seeds_ledger: Settings, block: str) -> None:
    names, _rows = run_sql(seeds_ledger, block)
    assert names  # a result with columns, not an error


def test_the_seed_story_answers_the_first_questions(seeds_ledger: Settings) -> None:
    """Not just 'no error': the story the README talks about is there."""
    _names, rows = run_sql(seeds_ledger, BLOCKS[0])
    assert [row[0] for row in rows] == [1]
    notes = [b for b in BLOCKS if "update_notes" in b]
    assert notes and run_sql(seeds_ledger, notes[0])[1]
