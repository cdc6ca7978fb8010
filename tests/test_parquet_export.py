"""Issue 15, item 2: incremental, partitioned Parquet exports (tasks/exports.py), on real
ledgers, real Parquet files read back with DuckDB, a real CLI process and a real kill."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from newsledger.tasks.errors import UsageError
from newsledger.tasks.exports import export_partitioned, parse_partition_by
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings
from test_concurrency_and_crash import cli, cli_env, text_story

Rows = list[tuple[object, ...]]


def stored(db: Path) -> Rows:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(
            "SELECT r.article_id, r.revision, r.content_hash, r.outlet, "
            "CAST(timezone('UTC', r.observed_at) AS DATE) FROM revisions AS r ORDER BY ALL"
        ).fetchall()


def exported(folder: Path) -> Rows:
    """Every row of the export folder (duplicates kept), partition columns read from paths."""
    with duckdb.connect() as conn:
        return conn.execute(
            "SELECT article_id, revision, content_hash, outlet, day FROM read_parquet("
            f"'{folder}/**/*.parquet', hive_partitioning = true) ORDER BY ALL"
        ).fetchall()


def write_stories(folder: Path, versions: dict[str, int]) -> None:
    folder.mkdir(exist_ok=True)
    for label, version in versions.items():
        (folder / f"{label}.txt").write_text(text_story(label, version), encoding="utf-8")


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Settings, Path]:
    settings = Settings(db=tmp_path / "ledger.duckdb")
    stories = tmp_path / "in"
    write_stories(stories, {"a": 1, "b": 1, "c": 1})
    ingest_paths([str(stories)], settings)
    return settings, stories


def test_each_export_writes_only_what_is_new_in_hive_folders(
    ledger: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, stories = ledger
    out = tmp_path / "parquet"

    first = export_partitioned(settings, out, "outlet,day")
    assert (first.revisions, first.files) == (3, 1)
    (folder,) = {p.parent.relative_to(out) for p in out.rglob("*.parquet")}
    assert folder.parts[0] == "outlet=Reuters" and folder.parts[1].startswith("day=")
    assert exported(out) == stored(settings.db)

    write_stories(stories, {"b": 2, "d": 1})  # one story revised, one new
    ingest_paths([str(stories)], settings)
    second = export_partitioned(settings, out, "outlet,day")
    assert second.revisions == 2
    assert exported(out) == stored(settings.db)  # each revision once: nothing twice, none lost
    assert len(stored(settings.db)) == 5

    again = export_partitioned(settings, out, "outlet,day")
    assert (again.revisions, again.files) == (0, 0)
    assert exported(out) == stored(settings.db)


def test_targets_have_their_own_watermarks_and_all_rewrites_one(
    ledger: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, _ = ledger
    by_day, by_language = tmp_path / "by-day", tmp_path / "by-language"
    export_partitioned(settings, by_day, ["day"])
    assert export_partitioned(settings, by_language, "language").revisions == 3

    files_before = sorted(by_day.rglob("*.parquet"))
    rebuilt = export_partitioned(settings, by_day, "day", everything=True)
    assert rebuilt.revisions == 3 and rebuilt.cleaned_files == len(files_before)
    assert not any(p.exists() for p in files_before)
    assert [row[:3] for row in exported(by_day)] == [row[:3] for row in stored(settings.db)]


# An export whose process dies after writing its files and before recording them.
KILLED_AFTER_WRITING = """
import os, sys
from pathlib import Path
from newsledger.tasks import exports
from newsledger.tasks.settings import Settings
settings, target = Settings(db=Path(sys.argv[1])), exports.export_target(sys.argv[2])
export_id, _ = exports._begin(settings, target, ("outlet", "day"), False)
exports._write(settings, target, ("outlet", "day"), export_id)
os._exit(9)
"""


def test_an_export_killed_before_its_record_is_written_once_by_the_next(
    ledger: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, stories = ledger
    out = tmp_path / "parquet"
    export_partitioned(settings, out, "outlet,day")
    write_stories(stories, {"a": 2, "e": 1})
    ingest_paths([str(stories)], settings)

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_WRITING, str(settings.db), str(out)], env=cli_env()
    )
    assert killed.returncode == 9
    assert exported(out) == stored(settings.db)  # its 2 rows are written, but not recorded

    result = export_partitioned(settings, out, "outlet,day")
    assert result.revisions == 2 and result.cleaned_files == 1  # its file removed, rows again
    assert exported(out) == stored(settings.db)  # once each


def test_the_cli_exports_by_partition_and_refuses_unknown_keys(
    ledger: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, _ = ledger
    out = tmp_path / "parquet"
    run = subprocess.run(
        cli(settings.db, "export", "--partition-by", "outlet,day", "--output", str(out)),
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "wrote 3 new revisions in 1 files" in run.stdout
    assert exported(out) == stored(settings.db)

    bad = subprocess.run(
        cli(settings.db, "export", "--partition-by", "outlet,weekday", "--output", str(out)),
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "weekday" in bad.stderr
    with pytest.raises(UsageError):
        parse_partition_by("day,day")
    with pytest.raises(UsageError):
        export_partitioned(settings, settings.db.parent, "day")  # the ledger's own folder
