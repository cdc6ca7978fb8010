"""Special files in a folder (FIFOs, devices, symlink loops) become recorded failures; the rest
of the folder is stored. Real files, the real CLI in a subprocess with a timeout."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
from test_cli import clean_env, newsledger

STORY = (
    "<html><head><title>Harbour reopens</title></head><body><article><h1>Harbour reopens"
    "</h1><p>The harbour reopened on Monday after a week of repairs to the sea wall, the "
    "council said.</p></article></body></html>"
)


def test_fifos_devices_and_symlink_loops_are_recorded_failures(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.html").write_text(STORY)
    os.mkfifo(folder / "x.html")
    (folder / "zero.html").symlink_to("/dev/zero")
    (folder / "random.html").symlink_to("/dev/urandom")
    (folder / "loop.html").symlink_to(folder / "loop.html")
    db = tmp_path / "ledger.duckdb"
    result = newsledger("--db", str(db), "ingest", str(folder), cwd=tmp_path, env=clean_env())
    assert result.returncode in (0, 1), result.stderr
    with duckdb.connect(str(db), read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM revisions").fetchone()
        failures = dict(conn.execute("SELECT input, error FROM failures").fetchall())
    assert stored == (1,)
    codes = {Path(name).name: code for name, code in failures.items()}
    assert codes["x.html"] == "not_regular_file"
    assert codes["zero.html"] == "not_regular_file"
    assert codes["random.html"] == "not_regular_file"
    assert codes["loop.html"] == "unresolvable_path"


def test_special_files_named_on_the_command_line_get_their_own_reason(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.html").write_text(STORY)
    os.mkfifo(folder / "x.html")
    (folder / "loop.html").symlink_to(folder / "loop.html")
    db = tmp_path / "ledger.duckdb"
    arguments = [str(folder / name) for name in ("good.html", "x.html", "loop.html")]
    result = newsledger("--db", str(db), "ingest", *arguments, cwd=tmp_path, env=clean_env())
    assert result.returncode == 1, result.stderr
    with duckdb.connect(str(db), read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM revisions").fetchone()
        failures = dict(conn.execute("SELECT input, error FROM failures").fetchall())
    assert stored == (1,)
    codes = {Path(name).name: code for name, code in failures.items()}
    assert codes == {"x.html": "not_regular_file", "loop.html": "unresolvable_path"}


def test_a_file_name_that_is_not_utf8_is_a_recorded_failure(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.html").write_text(STORY)
    bad = os.fsencode(folder) + b"/caf\xe9.html"
    with open(bad, "w") as handle:
        handle.write(STORY.replace("Monday", "Tuesday"))
    db = tmp_path / "ledger.duckdb"
    for argument in (str(folder), os.fsdecode(bad)):
        result = newsledger("--db", str(db), "ingest", argument, cwd=tmp_path, env=clean_env())
        assert result.returncode in (0, 1), result.stderr
    with duckdb.connect(str(db), read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM revisions").fetchone()
        failures = conn.execute("SELECT input, error FROM failures").fetchall()
    assert stored == (1,)
    assert {(Path(name).name, code) for name, code in failures} == {
        ("caf\\xe9.html", "undecodable_name")
    }


def test_a_page_whose_extraction_is_nearly_empty_is_a_recorded_failure(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.html").write_text(STORY)
    (folder / "nested.html").write_text(
        "<html><body><article><p>Hello there</p></article></body></html>"
    )
    db = tmp_path / "ledger.duckdb"
    result = newsledger("--db", str(db), "ingest", str(folder), cwd=tmp_path, env=clean_env())
    assert result.returncode in (0, 1), result.stderr
    with duckdb.connect(str(db), read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM revisions").fetchone()
        failures = conn.execute("SELECT input, error FROM failures").fetchall()
    assert stored == (1,)
    assert [(Path(name).name, code) for name, code in failures] == [
        ("nested.html", "empty_extraction")
    ]
