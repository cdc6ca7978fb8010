"""Command-line conventions, run as real subprocesses against a real ledger (issue 14): times
labelled UTC are UTC whatever the machine's zone, ``--db`` before or after the command,
``--version``, shell completion, exit status 1 (run time) / 2 (usage), ``--json`` as one object
per line, ``sql`` from stdin with ``--param``, CSV lines ending in ``\\n``, and a note on stderr
when a configured Prefect server does not answer."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_cli import REPO_ROOT, SEED_NAME, clean_env, newsledger, newsledger_parallel

pytestmark = pytest.mark.slow

NEW_YORK = clean_env(TZ="America/New_York")


@dataclass
class Ledger:
    root: Path
    db: Path
    seed: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return newsledger("--db", str(self.db), *args, cwd=self.root, env=env)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """The seed ingested, edited and ingested again (two revisions), plus one failed input."""
    root = tmp_path_factory.mktemp("conventions")
    shutil.copytree(REPO_ROOT / "seeds", root / "seeds")
    db = root / "ledger.duckdb"
    seed = root / "seeds" / "articles" / SEED_NAME
    first = newsledger("--db", str(db), "ingest", "seeds/", cwd=root)
    assert first.returncode == 0, first.stderr
    seed.write_text(
        seed.read_text(encoding="utf-8").replace(
            "two Israeli officials", "three Israeli officials"
        ),
        encoding="utf-8",
    )
    (root / "empty.txt").write_text("")
    second = newsledger("--db", str(db), "ingest", "seeds/", "empty.txt", cwd=root)
    assert second.returncode == 1, second.stderr  # empty.txt failed
    return Ledger(root, db, seed)


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _nearest_five_hours(value: datetime) -> str:
    """The same instant written in New York time (what a local-time bug shows)."""
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------- defect 3: UTC


def test_times_labelled_utc_are_utc_in_another_time_zone(ledger: Ledger) -> None:
    observed = [row[0] for row in ledger.query("SELECT observed_at FROM revisions ORDER BY 1")]
    (failed_at,) = ledger.query("SELECT max(occurred_at) FROM failures")[0]
    assert len(observed) == 2
    history, diff, failures, stats = newsledger_parallel(
        ["--db", str(ledger.db), "history", str(ledger.seed)],
        ["--db", str(ledger.db), "diff", str(ledger.seed)],
        ["--db", str(ledger.db), "failures"],
        ["--db", str(ledger.db), "stats"],
        cwd=ledger.root,
        env=NEW_YORK,
    )
    for result in (history, diff, failures, stats):
        assert result.returncode == 0, result.stderr
    flat = {
        name: re.sub(r"\s+", " ", r.stdout)
        for name, r in (
            ("history", history),
            ("diff", diff),
            ("failures", failures),
            ("stats", stats),
        )
    }
    for value in observed:
        assert _utc_text(value).split()[1] in flat["history"]
        assert _nearest_five_hours(value).split()[1] not in flat["history"]
        assert f"({_utc_text(value)} UTC)" in flat["diff"]
    assert _utc_text(failed_at).split()[1] in flat["failures"]
    assert _nearest_five_hours(failed_at).split()[1] not in flat["failures"]
    assert f"first observed │ {_utc_text(observed[0])}" in stats.stdout
    assert f"last observed │ {_utc_text(observed[1])}" in flat["stats"]


# --------------------------------------------------------------------------- defect 4: --db


def test_db_is_accepted_after_the_command_for_every_command(ledger: Ledger, tmp_path: Path) -> None:
    missing = tmp_path / "missing.duckdb"
    reads = [
        ["failures"],
        ["history", "abcdef123"],
        ["diff", "abcdef123"],
        ["sql", "select 1"],
        ["search", "word"],
        ["index"],
        ["export", "--output", str(tmp_path / "x.parquet")],
        ["stats"],
        ["web", "--port", "0"],
    ]
    results = newsledger_parallel(
        *([*command, "--db", str(missing)] for command in reads), cwd=tmp_path
    )
    for command, result in zip(reads, results, strict=True):
        assert "No such option" not in result.stderr, (command, result.stderr)
        assert f"no ledger at {missing}" in result.stderr, (command, result.stderr)
        assert result.returncode == 1, (command, result.stderr)
    # Write commands create and use the ledger named after the command.
    written = tmp_path / "written.duckdb"
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    for command in (
        ["ingest", str(ledger.seed), "--local"],
        ["poll", "--feeds", str(feeds), "--local"],
        ["refresh", "--local"],
        ["retry", "--local"],
        ["reprocess", "--local"],
    ):
        result = newsledger(*command, "--db", str(written), cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
    with duckdb.connect(str(written), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM ingest_runs").fetchone() == (5,)
    # After the command wins over before it.
    result = newsledger(
        "--db",
        str(missing),
        "sql",
        "select count(*) from revisions",
        "--db",
        str(ledger.db),
        "-f",
        "csv",
        cwd=tmp_path,
    )
    assert result.returncode == 0 and result.stdout.split() == ["count_star()", "2"]
    # The Prefect commands take it too (and then say they need a server).
    for command in (["serve"], ["submit", "http://127.0.0.1:9/x"], ["setup-prefect"]):
        result = newsledger(*command, "--db", str(missing), cwd=tmp_path)
        assert "No such option" not in result.stderr, (command, result.stderr)
        assert "needs a Prefect server" in result.stderr


# --------------------------------------------------------------------------- defect 5: Prefect


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_prefect_server_is_named_on_one_stderr_line(ledger: Ledger, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/api"
    env = clean_env(PREFECT_API_URL=url, NEWSLEDGER_PREFECT_HOME=str(tmp_path / "p"))
    result = newsledger(
        "--db",
        str(tmp_path / "l.duckdb"),
        "ingest",
        str(ledger.seed),
        "--no-show",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Prefect" in line]
    assert len(lines) == 1, result.stderr
    assert url in lines[0] and "in-process" in lines[0] and "Prefect UI" in lines[0]
    # No note when nothing is configured, nor with --local.
    quiet = [
        newsledger(
            "ingest",
            str(ledger.seed),
            "--no-show",
            "--db",
            str(tmp_path / "q.duckdb"),
            cwd=tmp_path,
        ),
        newsledger(
            "ingest",
            str(ledger.seed),
            "--no-show",
            "--local",
            "--db",
            str(tmp_path / "q.duckdb"),
            cwd=tmp_path,
            env=env,
        ),
    ]
    for run in quiet:
        assert run.returncode == 0 and "Prefect" not in run.stderr, run.stderr


# --------------------------------------------------------------------------- defect 8: CSV


def test_sql_csv_lines_end_with_a_line_feed(ledger: Ledger) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsledger.flows.cli",
            "--db",
            str(ledger.db),
            "sql",
            "select revision, title from revisions order by 1",
            "-f",
            "csv",
        ],
        cwd=ledger.root,
        env=clean_env(),
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert b"\r" not in result.stdout
    assert result.stdout.startswith(b"revision,title\n1,") and result.stdout.endswith(b"\n")
    assert result.stdout.count(b"\n") == 3


# --------------------------------------------------------------------------- defect 11


def test_version_and_shell_completion(tmp_path: Path) -> None:
    version = newsledger("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert re.fullmatch(r"newsledger \d+\.\d+\.\d+\S*\n", version.stdout), version.stdout
    script = newsledger("--show-completion", "bash", cwd=tmp_path)
    assert script.returncode == 0 and "_NEWSLEDGER_COMPLETE" in script.stdout
    completed = newsledger(
        cwd=tmp_path,
        env=clean_env(
            _NEWSLEDGER_COMPLETE="complete_bash", COMP_WORDS="newsledger hist", COMP_CWORD="1"
        ),
    )
    assert completed.returncode == 0 and completed.stdout.split() == ["history"]


def test_exit_status_1_for_run_time_errors_2_for_usage_errors(ledger: Ledger) -> None:
    db = str(ledger.db)
    cases: list[tuple[list[str], int, str]] = [
        (["no-such-command"], 2, "No such command"),
        (["history"], 2, "Missing argument"),
        (["sql", "select 1", "--no-such-option", "--db", db], 2, "No such option"),
        (["sql", "select 1", "--format", "parquet", "--db", db], 2, "needs --output"),
        (["sql", "select $x", "--param", "x", "--db", db], 2, "NAME=VALUE"),
        (
            ["export", "--query", "select 1", "--table", "t", "-o", "x.parquet", "--db", db],
            2,
            "not both",
        ),
        (["sql", "select 1", "-f", "csv", "-o", db, "--db", db], 2, "is the ledger itself"),
        (["history", "no-such-story", "--db", db], 1, "no-such-story"),
        (["sql", "selec 1", "--db", db], 1, "SQL error"),
        (["sql", "create table t (a int)", "--db", db], 1, "SQL error"),
        (["sql", "select $missing", "--db", db], 1, "SQL error"),
        (["stats", "--db", str(ledger.root / "nothing.duckdb")], 1, "no ledger at"),
    ]
    results = newsledger_parallel(*(args for args, _, _ in cases), cwd=ledger.root)
    for (args, code, message), result in zip(cases, results, strict=True):
        assert result.returncode == code, (args, result.returncode, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def _json_lines(text: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(record, dict) for record in records)
    return records


def test_json_is_one_object_per_line(ledger: Ledger, tmp_path: Path) -> None:
    db = str(ledger.db)
    history, failures, stats, search = newsledger_parallel(
        ["history", str(ledger.seed), "--json", "--db", db],
        ["failures", "--json", "--db", db],
        ["stats", "--json", "--db", db],
        ["search", "Israeli", "--all-revisions", "--no-refresh", "--json", "--db", db],
        cwd=ledger.root,
        env=NEW_YORK,
    )
    for result in (history, failures, stats, search):
        assert result.returncode == 0, result.stderr
    revisions = _json_lines(history.stdout)
    assert [r["revision"] for r in revisions] == [1, 2]
    observed = [row[0] for row in ledger.query("SELECT observed_at FROM revisions ORDER BY 1")]
    assert [datetime.fromisoformat(r["observed_at"]) for r in revisions] == observed
    assert all(r["observed_at"].endswith("+00:00") for r in revisions)  # UTC, not New York
    (failure,) = _json_lines(failures.stdout)
    assert failure["input"].endswith("empty.txt") and failure["error"] == "empty"
    tables = {record["table"] for record in _json_lines(stats.stdout)}
    assert tables == {"totals", "per_outlet_day", "revisions_per_story", "most_edited"}
    hits = _json_lines(search.stdout)
    assert hits and {hit["revision"] for hit in hits} == {1, 2}
    # ingest: the summary as one object (exit 1 still says an input failed)
    (tmp_path / "empty.txt").write_text("")
    ingest = newsledger(
        "ingest",
        str(ledger.seed),
        str(tmp_path / "empty.txt"),
        "--json",
        "--db",
        str(tmp_path / "l.duckdb"),
        cwd=tmp_path,
    )
    assert ingest.returncode == 1, ingest.stderr
    (summary,) = _json_lines(ingest.stdout)
    assert (summary["new"], summary["failed"]) == (1, 1)
    assert summary["failures"][0]["error"] == "empty"


def test_sql_reads_the_query_from_stdin_and_binds_parameters(ledger: Ledger) -> None:
    def sql(*args: str, stdin: str | None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsledger.flows.cli", "sql", *args, "--db", str(ledger.db)],
            cwd=ledger.root,
            env=clean_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    query = "select revision, $word as word from revisions where revision >= $min order by 1"
    from_dash = sql("-", "-f", "csv", "--param", "word=it's", "-p", "min=2", stdin=query)
    assert from_dash.returncode == 0, from_dash.stderr
    assert from_dash.stdout == "revision,word\n2,it's\n"
    no_argument = sql("-f", "json", "-p", "word=x", "-p", "min=1", stdin=query + ";\n")
    assert no_argument.returncode == 0, no_argument.stderr
    assert [r["revision"] for r in json.loads(no_argument.stdout)] == [1, 2]
    to_file = sql(
        "-f", "csv", "-o", str(ledger.root / "p.csv"), "-p", "word=y", "-p", "min=1", stdin=query
    )
    assert to_file.returncode == 0, to_file.stderr
    assert (ledger.root / "p.csv").read_text().splitlines() == ["revision,word", "1,y", "2,y"]
    empty = sql("-", stdin="  \n")
    assert empty.returncode == 2 and "empty" in empty.stderr


def test_consoles_read_the_terminal_width_of_each_invocation(tmp_path: Path) -> None:
    """Two invocations in one process (as a shell's completion, or an embedding program, makes
    them) each draw their tables at the width of their own ``COLUMNS``, not the width seen when
    the module was imported."""
    from newsledger.flows.cli import app
    from newsledger.tasks.settings import Settings
    from newsledger.tasks.store import ensure_ledger
    from typer.testing import CliRunner

    db = tmp_path / "ledger.duckdb"
    ensure_ledger(Settings(db=db))
    query = "SELECT repeat('x', 150) AS v"
    runner = CliRunner()
    narrow = runner.invoke(app, ["--db", str(db), "sql", query], env={"COLUMNS": "60"})
    wide = runner.invoke(app, ["--db", str(db), "sql", query], env={"COLUMNS": "200"})
    assert narrow.exit_code == 0 and wide.exit_code == 0, (narrow.output, wide.output)
    assert max(len(line) for line in narrow.output.splitlines()) <= 60
    assert "x" * 150 in wide.output
