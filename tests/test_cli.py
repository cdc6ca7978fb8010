"""The `newsledger` command line, run as real subprocesses against real ledgers: the "done
when" of issue 2 (ingest the seeds twice → one revision; edit → two; history; diff; sql), the
read-only SQL guard, exit codes, where the ledger lives, and that the fast path never imports
Prefect."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_NAME = "cnn-2025-09-02-idf-chief-netanyahu.txt"


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any NEWSLEDGER_/PREFECT_ settings, wide output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))}
    env.update({"COLUMNS": "250", "NO_COLOR": "1", **extra})
    return env


def newsledger(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsledger.flows.cli", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def newsledger_parallel(
    *commands: list[str], cwd: Path, env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Several independent (read-only) commands at once; results in order."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "newsledger.flows.cli", *args],
            cwd=cwd,
            env=env or clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for args, process in zip(commands, processes, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
    return results


@dataclass
class Ledger:
    root: Path
    db: Path
    seed: Path
    runs: list[subprocess.CompletedProcess[str]]
    revisions_after_two_runs: int

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return newsledger("--db", str(self.db), *args, cwd=self.root)

    def run_parallel(self, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
        return newsledger_parallel(*(["--db", str(self.db), *c] for c in commands), cwd=self.root)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """A copy of seeds/ ingested twice, then edited and ingested again."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(REPO_ROOT / "seeds", root / "seeds")
    db = root / "ledger.duckdb"
    seed = root / "seeds" / "articles" / SEED_NAME
    runs = [newsledger("--db", str(db), "ingest", "seeds/", cwd=root) for _ in range(2)]
    with duckdb.connect(str(db), read_only=True) as conn:  # closed before the next writer
        (revisions_after_two,) = conn.execute("SELECT count(*) FROM revisions").fetchone() or (0,)
    text = seed.read_text(encoding="utf-8")
    edited = text.replace("two Israeli officials told CNN.", "three Israeli officials told CNN.")
    edited = edited.replace(
        "according to Vilk.\n", "according to Vilk. The IDF declined to comment further.\n"
    )
    assert edited.count("three Israeli") == 1 and "declined to comment further" in edited
    seed.write_text(edited, encoding="utf-8")
    runs.append(newsledger("--db", str(db), "ingest", "seeds/", cwd=root))
    return Ledger(root, db, seed, runs, revisions_after_two)


# --------------------------------------------------------------------------- ingest


def test_ingest_seeds_twice_gives_one_revision_then_an_edit_gives_two(ledger: Ledger) -> None:
    first, second, third = ledger.runs
    assert [r.returncode for r in ledger.runs] == [0, 0, 0], [r.stderr for r in ledger.runs]
    assert ledger.revisions_after_two_runs == 1
    counts = [
        re.search(r"(\d+) │\s+(\d+) │\s+(\d+) │\s+(\d+) │\s+(\d+)", r.stdout) for r in ledger.runs
    ]
    # new, revised, unchanged, failed, skipped (seeds/feeds.yaml is not an article)
    assert [m.groups() if m else None for m in counts] == [
        ("1", "0", "0", "0", "1"),
        ("0", "0", "1", "0", "1"),
        ("0", "1", "0", "0", "1"),
    ]
    # The first run shows the stored story; an unchanged run shows none.
    assert "Tal Shalev, Dana Karni" in first.stdout and "revision 1" in first.stdout
    assert "revision" not in second.stdout
    assert "revision 2" in third.stdout
    assert ledger.query("SELECT revision, changed_fields FROM revisions ORDER BY revision") == [
        (1, []),
        (2, ["text"]),
    ]
    assert ledger.query("SELECT identity FROM articles") == [(f"file:articles/{SEED_NAME}",)]


def test_history_lists_every_revision(ledger: Ledger) -> None:
    (article_id,) = ledger.query("SELECT article_id FROM articles")[0]
    result, by_id = ledger.run_parallel(
        ["history", str(ledger.seed)], ["history", str(article_id)[:8]]
    )
    assert result.returncode == 0, result.stderr
    rows = re.findall(
        r"^\s*(\d+) │ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) │ ([0-9a-f]{12}) │\s+(\d+) │"
        r"\s+\+(\d+) │\s+-(\d+) │ (\S+)",
        result.stdout,
        flags=re.M,
    )
    hashes = [h[:12] for (h,) in ledger.query("SELECT content_hash FROM revisions ORDER BY 1")]
    assert [r[0] for r in rows] == ["1", "2"]
    assert sorted(r[2] for r in rows) == sorted(hashes)
    assert rows[1][4:] == ("7", "1", "text")  # "three" and six new words; "two" removed
    assert f"file:articles/{SEED_NAME}" in result.stdout
    # The same story by an id prefix.
    assert by_id.returncode == 0 and by_id.stdout == result.stdout


def test_diff_shows_the_edit_with_plain_markers_when_piped(ledger: Ledger) -> None:
    result, same = ledger.run_parallel(
        ["diff", str(ledger.seed)], ["diff", str(ledger.seed), "--from", "2", "--to", "2"]
    )
    assert result.returncode == 0, result.stderr
    assert "revision 1" in result.stdout and "revision 2" in result.stdout
    assert "[-two-] {+three+} Israeli officials told CNN." in result.stdout
    assert "{+The IDF declined to comment further.+}" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes in a pipe
    assert same.returncode == 0 and "text: unchanged" in same.stdout


def test_missing_article_is_a_clear_error(ledger: Ledger) -> None:
    result = ledger.run("history", "no-such-story.txt")
    assert result.returncode == 1  # a run-time error (2 is for usage errors)
    assert "no article matches 'no-such-story.txt'" in result.stderr


# --------------------------------------------------------------------------- sql


def test_sql_shows_the_seed_values(ledger: Ledger) -> None:
    result = ledger.run("sql", "select authors, published_at from latest_revisions")
    assert result.returncode == 0, result.stderr
    assert "Tal Shalev" in result.stdout and "Dana Karni" in result.stdout
    assert "2025-09-02" in result.stdout


def test_sql_csv_and_json_parse(ledger: Ledger) -> None:
    query = (
        "select identity, revision, authors, published_at, published_time_known, "
        "published_date, word_count from latest_revisions"
    )
    as_csv, as_json = ledger.run_parallel(
        ["sql", query, "--format", "csv"], ["sql", query, "--format", "json"]
    )
    assert as_csv.returncode == 0 and as_json.returncode == 0, as_csv.stderr + as_json.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 1
    assert rows[0]["identity"] == f"file:articles/{SEED_NAME}"
    # a timestamp with time zone; the seed header states a day only: midnight UTC, time unknown
    assert rows[0]["revision"] == "2" and rows[0]["published_at"] == "2025-09-02T00:00:00+00:00"
    assert rows[0]["published_time_known"].lower() == "false"
    assert rows[0]["published_date"] == "2025-09-02"
    assert json.loads(rows[0]["authors"]) == ["Tal Shalev", "Dana Karni"]  # JSON, not a repr
    records = json.loads(as_json.stdout)
    assert records == [
        {
            "identity": f"file:articles/{SEED_NAME}",
            "revision": 2,
            "authors": ["Tal Shalev", "Dana Karni"],
            "published_at": "2025-09-02T00:00:00+00:00",
            "published_time_known": False,
            "published_date": "2025-09-02",
            "word_count": int(rows[0]["word_count"]),
        }
    ]


REFUSED = [
    ("delete from revisions", "read-only"),
    ("drop table revisions", "read-only"),
    ("select * from read_csv('/etc/passwd')", "Cannot access file"),
    ("copy revisions to '/tmp/newsledger-leak.csv'", "SQL error"),
    ("attach '/tmp/newsledger-other.duckdb' as other", "SQL error"),
    ("set enable_external_access = true", "SQL error"),
]


def test_sql_refuses_writes_and_file_access(ledger: Ledger) -> None:
    before = ledger.query("SELECT count(*), max(revision) FROM revisions")
    results = ledger.run_parallel(*(["sql", query] for query, _message in REFUSED))
    for (query, message), result in zip(REFUSED, results, strict=True):
        assert result.returncode == 1, query
        assert message in result.stderr, (query, result.stderr)
        assert "root:" not in result.stdout
    assert ledger.query("SELECT count(*), max(revision) FROM revisions") == before == [(2, 2)]
    assert not Path("/tmp/newsledger-leak.csv").exists()
    assert not Path("/tmp/newsledger-other.duckdb").exists()


def test_bad_sql_is_a_clear_error_with_exit_1(ledger: Ledger) -> None:
    result = ledger.run("sql", "selec authors from latest_revisions")
    assert result.returncode == 1
    assert "SQL error" in result.stderr and 'syntax error at or near "selec"' in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- failures, --db


def test_ingest_with_a_failing_input_exits_1_and_says_why(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "seeds" / "articles" / SEED_NAME, folder / "story.txt")
    (folder / "empty.txt").write_bytes(b"")
    result = newsledger(
        "--db",
        str(tmp_path / "l.duckdb"),
        "ingest",
        str(folder),
        str(tmp_path / "nope.html"),
        "--local",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "empty.txt: the file is empty" in result.stderr
    assert "nope.html: no such file or folder" in result.stderr
    assert re.search(r"1 │\s+0 │\s+0 │\s+2 │\s+0", result.stdout)  # the good file is stored
    with duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT error FROM failures ORDER BY error").fetchall() == [
            ("empty",),
            ("missing",),
        ]


def test_db_option_then_environment_then_default(ledger: Ledger, tmp_path: Path) -> None:
    query = "select count(*) as n from revisions"
    other = tmp_path / "other.duckdb"
    with_env = clean_env(NEWSLEDGER_DB=str(ledger.db))
    from_env, option_wins = newsledger_parallel(
        ["sql", query, "--format", "csv"],
        ["--db", str(other), "sql", query],
        cwd=tmp_path,
        env=with_env,
    )
    (default,) = newsledger_parallel(["sql", query], cwd=tmp_path)
    assert from_env.returncode == 0, from_env.stderr
    assert from_env.stdout.split() == ["n", "2"]
    assert option_wins.returncode == 1
    assert f"no ledger at {other}" in option_wins.stderr
    assert default.returncode == 1
    assert "no ledger at data/newsledger.duckdb" in default.stderr
    assert not other.exists() and not (tmp_path / "data").exists()


FAST_PATH_PROBE = """
import sys
from newsledger.flows import cli

def run(*args):
    sys.argv = ["newsledger", *args]
    try:
        cli.main()
    except SystemExit as done:
        return done.code
    return 0

db, path = sys.argv[1], sys.argv[2]
code = run("--db", db, "ingest", path, "--local", "--no-show")
print("local", code, "prefect" in sys.modules, flush=True)
code = run("--db", db, "ingest", path, "--no-show")
print("auto", code, "prefect" in sys.modules, flush=True)
"""


def test_local_and_auto_without_a_server_never_import_prefect(
    ledger: Ledger, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FAST_PATH_PROBE, str(tmp_path / "l.duckdb"), str(ledger.seed)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(("local", "auto"))]
    assert lines == ["local 0 False", "auto 0 False"]
    with duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True) as conn:
        assert conn.execute(
            "SELECT orchestrator, new_count, unchanged_count FROM ingest_runs ORDER BY started_at"
        ).fetchall() == [("local", 1, 0), ("local", 0, 1)]
