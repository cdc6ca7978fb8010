"""`newsledger sql` is safe to expose: every way to write, reach other files, load code or undo
the lock is refused with a clear error (exit 2), the ledger file stays byte-identical, no file
appears anywhere, and a runaway query is stopped."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from ledger_stories import build_story_ledger
from newsledger.flows.cli import app
from newsledger.tasks.search import fts_extension_file
from newsledger.tasks.settings import Settings
from processes import run_guarded
from typer.testing import CliRunner

READ_ONLY = "newsledger sql is read-only"
NO_FILES = "newsledger sql cannot read or write other files"
LOCKED = "settings cannot be changed in newsledger sql"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("safety")
    settings = Settings(db=root / "ledger.duckdb", lock_timeout_seconds=30)
    build_story_ledger(settings, root / "in")
    return settings.db


def matrix(db: Path, outside: Path) -> list[tuple[str, str]]:
    """(statement, what the error must say). ``outside`` is a folder no query may touch."""
    other = outside / "other.duckdb"
    fts = fts_extension_file()
    return [
        # writes
        ("INSERT INTO articles VALUES ('x', 'y', 'text', 'z', now())", READ_ONLY),
        ("UPDATE revisions SET title = 'rewritten'", READ_ONLY),
        ("DELETE FROM revisions", READ_ONLY),
        ("CREATE TABLE copy AS SELECT * FROM revisions", READ_ONLY),
        ("DROP VIEW latest_revisions", READ_ONLY),
        ("ALTER TABLE revisions ADD COLUMN x INTEGER", READ_ONLY),
        ("CREATE OR REPLACE MACRO as_of(ts) AS TABLE SELECT 1", READ_ONLY),
        ("INSERT INTO search_docs SELECT * FROM search_docs", READ_ONLY),
        # other databases
        (f"ATTACH '{other}' AS other", NO_FILES),
        (f"ATTACH '{db}' AS again (READ_WRITE)", "already attached"),
        ("ATTACH ':memory:' AS scratch", "read-only"),
        # writing files
        (f"COPY revisions TO '{outside / 'leak.csv'}'", NO_FILES),
        (f"COPY (SELECT 1) TO '{outside / 'leak.parquet'}' (FORMAT parquet)", NO_FILES),
        (f"EXPORT DATABASE '{outside / 'dump'}'", NO_FILES),
        # reading files
        ("SELECT * FROM read_csv('/etc/passwd')", NO_FILES),
        (f"SELECT * FROM read_parquet('{outside / 'data.parquet'}')", NO_FILES),
        (f"SELECT * FROM '{outside / 'data.parquet'}'", NO_FILES),
        ("SELECT * FROM read_json('/etc/hostname')", NO_FILES),
        ("SELECT * FROM read_text('/etc/hostname')", NO_FILES),
        ("SELECT * FROM read_blob('/etc/hostname')", NO_FILES),
        ("SELECT * FROM glob('/etc/*')", NO_FILES),
        (f"IMPORT DATABASE '{outside}'", NO_FILES),
        # extensions and secrets
        ("INSTALL httpfs", NO_FILES),
        ("LOAD fts", NO_FILES),
        (f"LOAD '{fts}'", NO_FILES),
        (f"FORCE INSTALL '{fts}'", NO_FILES),
        ("CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')", NO_FILES),
        # undoing the lock
        ("SET enable_external_access = true", LOCKED),
        ("RESET enable_external_access", LOCKED),
        ("SET lock_configuration = false", LOCKED),
        ("RESET lock_configuration", LOCKED),
        ("SET GLOBAL access_mode = 'read_write'", LOCKED),
        ("SET allowed_directories = ['/']", LOCKED),
        ("SET memory_limit = '100GB'", LOCKED),
        (f"SET temp_directory = '{outside / 'spill'}'", LOCKED),
        ("SET autoload_known_extensions = true", LOCKED),
        # pragmas that change settings or write files
        ("PRAGMA memory_limit = '100GB'", LOCKED),
        ("PRAGMA enable_profiling = 'json'", LOCKED),
        (f"PRAGMA profiling_output = '{outside / 'profile.json'}'", LOCKED),
        ("PRAGMA create_fts_index('revisions', 'content_hash', 'text')", "fts extension"),
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_escape_is_refused_clearly(ledger: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.parquet").write_bytes(b"PAR1 not really")
    before = sha256(ledger)
    runner = CliRunner()
    failures = []
    for statement, message in matrix(ledger, outside):
        result = runner.invoke(app, ["--db", str(ledger), "sql", statement])
        text = result.output
        if result.exit_code != 1 or message not in text or "SQL error" not in text:
            failures.append((statement, result.exit_code, text))
        assert "root:" not in text  # nothing of /etc/passwd ever printed
        assert "Traceback" not in text
    assert failures == []
    assert sha256(ledger) == before
    assert sorted(p.name for p in outside.iterdir()) == ["data.parquet"]


@pytest.mark.parametrize(
    "statement",
    [
        "CHECKPOINT",
        "VACUUM",
        "PRAGMA force_checkpoint",
        "CALL checkpoint()",
        "CREATE TEMP TABLE scratch AS SELECT * FROM revisions",
    ],
)
def test_harmless_statements_leave_the_file_untouched(ledger: Path, statement: str) -> None:
    """On a read-only ledger these run but write nothing (temp tables live in memory)."""
    before = sha256(ledger)
    result = CliRunner().invoke(app, ["--db", str(ledger), "sql", statement])
    assert result.exit_code == 0, result.output
    assert sha256(ledger) == before


def test_reads_still_work_and_bad_sql_is_clear(ledger: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "--db",
            str(ledger),
            "sql",
            "SELECT count(*) AS n FROM revision_changes",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0 and result.stdout.splitlines() == ["n", "4"]
    result = runner.invoke(app, ["--db", str(ledger), "sql", "SELEC 1"])
    assert result.exit_code == 1
    assert "SQL error" in result.output and 'syntax error at or near "SELEC"' in result.output


def test_a_runaway_query_is_stopped(ledger: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--db", str(ledger), "sql", "SELECT count(*) FROM range(1000000000000)"],
        env={"NEWSLEDGER_QUERY_TIMEOUT_SECONDS": "1"},
    )
    assert result.exit_code == 1
    assert "the query was stopped after 1 s" in result.output


def test_parquet_output_goes_through_the_same_lock(ledger: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "out.parquet"
    for statement, message in (
        ("DELETE FROM revisions", READ_ONLY),
        ("SELECT * FROM read_csv('/etc/passwd')", NO_FILES),
        ("SET enable_external_access = true", LOCKED),
    ):
        result = runner.invoke(
            app,
            ["--db", str(ledger), "sql", statement, "--format", "parquet", "--output", str(target)],
        )
        assert result.exit_code == 1 and message in result.output, statement
    assert list(tmp_path.iterdir()) == []


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsledger.flows.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent / "shim")},
    )


def test_output_never_replaces_the_ledger_or_an_existing_file(ledger: Path, tmp_path: Path) -> None:
    before = sha256(ledger)
    symlink = tmp_path / "link.duckdb"
    symlink.symlink_to(ledger)
    hardlink = tmp_path / "hard.duckdb"
    os.link(ledger, hardlink)
    for target in (ledger, symlink, hardlink, tmp_path / ".." / tmp_path.name / "hard.duckdb"):
        for extra in ((), ("--force",)):
            result = _cli(
                "--db",
                str(ledger),
                "sql",
                "select 1",
                "--format",
                "parquet",
                "--output",
                str(target),
                *extra,
            )
            assert result.returncode == 2, (target, extra, result.stderr)
            assert "is the ledger itself" in result.stderr
        result = _cli("--db", str(ledger), "export", "--output", str(target), "--force")
        assert result.returncode == 2 and "is the ledger itself" in result.stderr
    assert sha256(ledger) == before
    existing = tmp_path / "old.csv"
    existing.write_text("keep me\n")
    command = ("--db", str(ledger), "sql", "select 42 AS n", "-f", "csv", "-o", str(existing))
    result = _cli(*command)
    assert result.returncode == 2 and "already exists; pass --force" in result.stderr
    assert existing.read_text() == "keep me\n"
    result = _cli(*command, "--force")
    assert result.returncode == 0, result.stderr
    assert existing.read_text().split() == ["n", "42"]


# --- limits over the whole process: memory, what a table shows, one deadline (issue 13 #5) ---

MACHINE_GUARD = 8 * 1024**3  # keeps a regression from taking the (shared) machine's memory


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float


def _measured_cli(tmp_path: Path, env: dict[str, str], *arguments: str) -> Finished:
    """Run the CLI as its own process; its exit status and its peak resident memory (from
    wait4's rusage of that one child). Killed after 120 s (then the status is -9)."""

    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        returncode, peak_rss_mb = run_guarded(
            [sys.executable, "-m", "newsledger.flows.cli", *arguments],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent / "shim"), **env},
            memory_bytes=MACHINE_GUARD,
            timeout=120,  # a regression fails instead of hanging
            stdout=out,
            stderr=err,
        )
    return Finished(
        returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        peak_rss_mb,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "select len(list(range(1000000000)))",  # was 6 GB RSS
        "select repeat('x', 3000000000)",  # was 5.8 GB
        "select len(list(range(300000000)))",  # was 3.5 GB, then DuckDB's out-of-memory error
        "select length(repeat('x', 1500000000))",  # was 3 GB, and an answer
    ],
)
def test_memory_is_bounded_for_the_whole_process(
    ledger: Path, tmp_path: Path, statement: str
) -> None:
    """DuckDB's memory_limit misses lists and long strings; the process-wide cap turns them
    into a clear error (exit 2, not a kill by a signal) with the process under the cap."""
    budget_mb = 1024
    result = _measured_cli(
        tmp_path,
        {"NEWSLEDGER_QUERY_PROCESS_MEMORY_MB": str(budget_mb)},
        "--db",
        str(ledger),
        "sql",
        statement,
    )
    assert result.returncode == 1, result
    assert "SQL error: the query ran out of memory" in result.stderr
    assert "NEWSLEDGER_QUERY_PROCESS_MEMORY_MB" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.peak_rss_mb < budget_mb, result.peak_rss_mb


def test_a_large_value_is_shown_cut_with_its_size(ledger: Path, tmp_path: Path) -> None:
    """A 3 MB string and the ledger's own bytes (read_blob of the ledger is allowed) show
    their first characters and a marker with their size; the output stays small."""
    size = ledger.stat().st_size
    for statement, start, marker in (
        ("select repeat('x', 3000000) as big", "x" * 200, "…(3,000,000chars)"),
        (f"select content from read_blob('{ledger}')", "b", f"…({size:,}bytes)"),
    ):
        result = _measured_cli(
            tmp_path,
            {"NEWSLEDGER_QUERY_MAX_VALUE_CHARS": "200"},
            "--db",
            str(ledger),
            "sql",
            statement,
        )
        assert result.returncode == 0, result.stderr
        flat = "".join(result.stdout.split()[2:])  # the table folds a long value over lines
        assert flat.startswith(start) and flat.endswith(marker), flat
        assert len(flat) == 200 + len(marker)


def test_a_table_shows_at_most_the_row_limit(ledger: Path, tmp_path: Path) -> None:
    result = _measured_cli(
        tmp_path,
        {"NEWSLEDGER_QUERY_MAX_ROWS_SHOWN": "5"},
        "--db",
        str(ledger),
        "sql",
        "select i from range(100000) t(i)",
    )
    assert result.returncode == 0, result.stderr
    assert [line.strip() for line in result.stdout.splitlines()[2:]] == ["0", "1", "2", "3", "4"]
    assert "99,995 more rows not shown" in result.stderr
    complete = _measured_cli(
        tmp_path, {}, "--db", str(ledger), "sql", "select i from range(100000) t(i)", "-f", "csv"
    )
    assert complete.returncode == 0 and len(complete.stdout.splitlines()) == 100001


def test_the_timeout_covers_drawing_the_result(ledger: Path, tmp_path: Path) -> None:
    """The query itself takes milliseconds; drawing 200,000 rows takes far longer than the
    1 s deadline, which stops it with the timeout message."""
    result = _measured_cli(
        tmp_path,
        {"NEWSLEDGER_QUERY_TIMEOUT_SECONDS": "1", "NEWSLEDGER_QUERY_MAX_ROWS_SHOWN": "1000000"},
        "--db",
        str(ledger),
        "sql",
        "select i, 'row ' || i as label from range(200000) t(i)",
    )
    assert result.returncode == 1, result.stderr
    assert "SQL error: the query was stopped after 1 s" in result.stderr
    assert "row 199999" not in result.stdout


@pytest.mark.parametrize("file_format", ["csv", "json", "parquet"])
def test_the_timeout_covers_writing_a_file_and_leaves_nothing(
    ledger: Path, tmp_path: Path, file_format: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = _measured_cli(
        tmp_path,
        {"NEWSLEDGER_QUERY_TIMEOUT_SECONDS": "1"},
        "--db",
        str(ledger),
        "sql",
        "select i, 'row ' || i as label from range(3000000000) t(i)",
        "--format",
        file_format,
        "--output",
        str(folder / f"all.{file_format}"),
    )
    assert result.returncode == 1, result.stderr
    assert "SQL error: the query was stopped after 1 s" in result.stderr
    assert list(folder.iterdir()) == []
