"""Store stage (tasks/store.py + tasks/sql): migrations, the revision rule, the append-only
revisions table, observations, failures, runs, views, change sizes, skipping extraction of
unchanged bytes, the read-only reader and the file-lock retry. Real DuckDB files only."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from newsledger.tasks import load as load_module
from newsledger.tasks.clean import extractor_version
from newsledger.tasks.errors import DatabaseLockedError, StoreError
from newsledger.tasks.load import discover_files, load_documents
from newsledger.tasks.models import (
    ExtractedArticle,
    FailedInput,
    KnownUnchanged,
    RunSummary,
    SourceDocument,
)
from newsledger.tasks.pipeline import (
    discover,
    ingest_paths,
    new_run_id,
    prepare_documents,
    prepare_file_batch,
    store_batch,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import (
    LastObservation,
    begin_run,
    connect_with_retry,
    ensure_ledger,
    finish_run,
    last_observations_by_input,
    migrate,
    migrations,
    open_reader,
    open_writer,
)

HEADER = "date 2025-01-02 By Ann Lee and Bo Chan, Reuters\n\n"
A = HEADER + "The council met on Tuesday. It voted to rebuild the wall.\n"
B = HEADER + "The council met on Wednesday. It voted to rebuild the wall. Work starts soon.\n"
C = HEADER + "The council met again and voted to delay the rebuilding of the wall.\n"
TEXTS = {"A": A, "B": B, "C": C}


def query(settings: Settings, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        return conn.execute(sql, params).fetchall()


def ingest_version(settings: Settings, story: Path, text: str) -> RunSummary:
    story.parent.mkdir(parents=True, exist_ok=True)
    story.write_text(text, encoding="utf-8")
    return ingest_paths([str(story.parent)], settings)


def outcome_of(summary: RunSummary) -> str:
    counts = {
        "new": summary.new,
        "revised": summary.revised,
        "unchanged": summary.unchanged,
        "failed": summary.failed,
    }
    assert sum(counts.values()) == 1, counts
    return next(name for name, n in counts.items() if n)


FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


@pytest.fixture
def db_path() -> Iterator[Path]:
    """The ledger on tmpfs where there is one: every ingest opens and syncs the file four
    times, and nothing here depends on the disk."""
    with tempfile.TemporaryDirectory(dir=FAST_TMP, prefix="newsledger-test-") as tmp:
        yield Path(tmp) / "ledger.duckdb"


@pytest.fixture
def story(tmp_path: Path) -> Path:
    return tmp_path / "articles" / "story.txt"


# --------------------------------------------------------------------------- migrations


def test_migrations_are_recorded_and_idempotent(settings: Settings) -> None:
    assert not settings.db.exists()
    expected = [version for version, _name, _path in migrations()]
    assert expected[0] == 1 and expected == sorted(expected)
    assert ensure_ledger(settings) == expected
    assert ensure_ledger(settings) == []
    rows = query(
        settings, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
    )
    assert [(v, n) for v, n, _ in rows] == [(v, n) for v, n, _ in migrations()]
    assert rows[0][1] == "revision_ledger" and all(r[2] is not None for r in rows)
    with duckdb.connect(str(settings.db)) as conn:
        assert migrate(conn) == []
    tables = {r[0] for r in query(settings, "SELECT table_name FROM information_schema.tables")}
    assert {
        "articles",
        "revisions",
        "observations",
        "failures",
        "ingest_runs",
        "latest_revisions",
        "article_history",
        "schema_migrations",
    } <= tables
    assert query(settings, "SELECT count(*) FROM schema_migrations") == [(len(expected),)]


def test_ingests_do_not_reapply_migrations(settings: Settings, story: Path) -> None:
    ingest_version(settings, story, A)
    first = query(settings, "SELECT version, applied_at FROM schema_migrations")
    ingest_version(settings, story, B)
    assert query(settings, "SELECT version, applied_at FROM schema_migrations") == first


# --------------------------------------------------------------------------- revision rule


@pytest.mark.parametrize(
    ("sequence", "outcomes", "stored"),
    [
        ("AA", ["new", "unchanged"], "A"),
        ("AB", ["new", "revised"], "AB"),
        ("ABA", ["new", "revised", "revised"], "ABA"),
    ],
)
def test_revision_rule(
    settings: Settings, story: Path, sequence: str, outcomes: list[str], stored: str
) -> None:
    seen = [outcome_of(ingest_version(settings, story, TEXTS[v])) for v in sequence]
    assert seen == outcomes
    rows = query(settings, "SELECT revision, text FROM revisions ORDER BY revision")
    assert [r[0] for r in rows] == list(range(1, len(stored) + 1))
    expected = [TEXTS[v].split("\n\n", 1)[1].strip() for v in stored]
    assert [r[1] for r in rows] == expected
    assert query(settings, "SELECT count(*) FROM articles") == [(1,)]


def test_metadata_only_change_is_not_a_new_revision(settings: Settings, story: Path) -> None:
    """The revision rule compares title, authors and text only."""
    ingest_version(settings, story, A)
    moved = A.replace("2025-01-02", "2025-01-05")
    assert outcome_of(ingest_version(settings, story, moved)) == "unchanged"
    assert outcome_of(ingest_version(settings, story, "title: Wall vote\n" + moved)) == "revised"
    assert outcome_of(ingest_version(settings, story, A.replace("Bo Chan", "Cy Diaz"))) == (
        "revised"
    )
    rows = query(
        settings,
        "SELECT revision, changed_fields, title, authors, published_at "
        "FROM revisions ORDER BY revision",
    )
    assert [(r[0], r[1]) for r in rows] == [
        (1, []),
        (2, ["title", "published_at"]),
        (3, ["title", "authors", "published_at"]),
    ]
    assert rows[1][2] == "Wall vote" and rows[2][3] == ["Ann Lee", "Cy Diaz"]


def test_revisions_rows_never_change(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    for name, text in (("one.txt", A), ("two.txt", B)):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    ingest_paths([str(folder)], settings)
    (folder / "one.txt").write_text(B)
    ingest_paths([str(folder)], settings)
    before = query(settings, "SELECT * FROM revisions ORDER BY article_id, revision")
    assert len(before) == 3

    (folder / "one.txt").write_text(C)  # revised
    (folder / "three.txt").write_text(A)  # new
    (folder / "broken.txt").write_bytes(b"")  # failed
    ingest_paths([str(folder)], settings)  # two.txt unchanged
    (folder / "one.txt").write_text(A)
    ingest_paths([str(folder), str(tmp_path / "missing.txt")], settings)

    after = query(settings, "SELECT * FROM revisions ORDER BY article_id, revision")
    assert len(after) == 6
    keys = {(r[0], r[1]) for r in before}
    assert [r for r in after if (r[0], r[1]) in keys] == before


# --------------------------------------------------------------------------- observations etc.


def test_observations_carry_every_outcome(settings: Settings, story: Path) -> None:
    for text in (A, A, B):
        ingest_version(settings, story, text)
    story.write_text("<html><body></body></html>")
    html = story.with_suffix(".html")
    story.rename(html)
    ingest_paths([str(html)], settings)
    ingest_paths([str(story)], settings)  # now missing

    rows = query(
        settings,
        """
        SELECT o.outcome, o.revision, o.identity, o.input, o.content_hash IS NOT NULL,
               o.raw_hash IS NOT NULL, o.extractor_version, r.started_at
        FROM observations o JOIN ingest_runs r USING (run_id)
        ORDER BY o.observation_id""",
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("new", 1),
        ("unchanged", 1),
        ("revised", 2),
        ("failed", None),
        ("failed", None),
    ]
    assert [r[2] for r in rows] == ["file:story.txt"] * 3 + ["file:story.html", None]
    assert [r[4] for r in rows] == [True, True, True, False, False]
    assert [r[5] for r in rows] == [True, True, True, True, False]
    assert [r[6] for r in rows[:3]] == [extractor_version("text")] * 3
    assert [
        r[0]
        for r in query(
            settings, "SELECT outcome FROM observations WHERE identity = 'file:story.txt'"
        )
    ] == ["new", "unchanged", "revised"]


def test_failures_rows(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.html").write_text("<html><body><script>x()</script></body></html>")
    summary = ingest_paths([str(folder), str(tmp_path / "nope.txt")], settings)
    assert summary.failed == 3
    rows = query(
        settings,
        "SELECT input, stage, error, message, run_id, occurred_at, identity "
        "FROM failures ORDER BY input",
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (str(folder / "blank.html"), "clean", "no_content"),
        (str(folder / "empty.txt"), "load", "empty"),
        (str(tmp_path / "nope.txt"), "load", "missing"),
    ]
    assert all(r[3] and r[0] in r[3] for r in rows)  # the message names the input
    assert {r[4] for r in rows} == {summary.run_id}
    assert all(r[5] is not None for r in rows)
    assert rows[0][6] == "file:blank.html"
    assert {(f.input, f.error) for f in summary.failures} == {(r[0], r[2]) for r in rows}


def test_ingest_runs_rows(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(A)
    (folder / "b.txt").write_text(B)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "notes.md").write_text("# notes")
    first = ingest_paths([str(folder)], settings)
    (folder / "b.txt").write_text(C)
    second = ingest_paths([str(folder)], settings)
    rows = query(
        settings,
        """
        SELECT run_id, flow, status, orchestrator, new_count, revised_count, unchanged_count,
               failed_count, skipped_count, started_at <= finished_at, pid, host, arguments
        FROM ingest_runs ORDER BY started_at""",
    )
    assert [r[0] for r in rows] == [first.run_id, second.run_id]
    assert [r[1:10] for r in rows] == [
        ("ingest_files", "completed", "local", 2, 0, 0, 1, 1, True),
        ("ingest_files", "completed", "local", 0, 1, 1, 1, 1, True),
    ]
    assert all(r[10] == os.getpid() and r[11] for r in rows)
    assert json.loads(rows[0][12]) == {"paths": [str(folder)]}


def test_begin_run_marks_runs_of_dead_processes_crashed(settings: Settings) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    begin_run(settings, "still-alive", "ingest_files", orchestrator="local", arguments={})
    begin_run(settings, "dead-run", "ingest_files", orchestrator="local", arguments={})
    with open_writer(settings) as conn:
        conn.execute("UPDATE ingest_runs SET pid = ? WHERE run_id = 'dead-run'", [dead.pid])
    begin_run(settings, "next", "ingest_files", orchestrator="local", arguments={})
    status = dict(query(settings, "SELECT run_id, status FROM ingest_runs"))
    assert status == {"still-alive": "running", "dead-run": "crashed", "next": "running"}


def test_views(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "one.txt").write_text(A)
    (folder / "two.txt").write_text(A)
    ingest_paths([str(folder)], settings)
    for text in (B, C):
        (folder / "one.txt").write_text(text)
        ingest_paths([str(folder)], settings)

    latest = query(
        settings, "SELECT identity, revision, text FROM latest_revisions ORDER BY identity"
    )
    assert [(r[0], r[1]) for r in latest] == [("file:one.txt", 3), ("file:two.txt", 1)]
    assert latest[0][2].startswith("The council met again")
    history = query(
        settings,
        "SELECT identity, revision, revision_count, words_added, "
        "words_removed, changed_fields, content_hash "
        "FROM article_history ORDER BY identity, revision",
    )
    assert [(r[0], r[1], r[2]) for r in history] == [
        ("file:one.txt", 1, 3),
        ("file:one.txt", 2, 3),
        ("file:one.txt", 3, 3),
        ("file:two.txt", 1, 1),
    ]
    assert len({r[6] for r in history[:3]}) == 3
    assert history[3][6] == history[0][6]  # same content, other story


def test_words_added_and_removed(settings: Settings, story: Path) -> None:
    ingest_version(settings, story, A)
    ingest_version(settings, story, B)
    rows = query(
        settings,
        "SELECT revision, word_count, words_added, words_removed, "
        "changed_fields FROM revisions ORDER BY revision",
    )
    # A → B: "Tuesday." becomes "Wednesday." and "Work starts soon." is appended.
    assert rows == [(1, 11, 11, 0, []), (2, 14, 4, 1, ["text"])]
    outcome = [o for o in ingest_version(settings, story, A).outcomes]
    assert [(o.outcome, o.revision, o.words_added, o.words_removed) for o in outcome] == [
        ("revised", 3, 1, 4)
    ]


def test_one_story_under_two_names_is_one_article(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    url = "url: https://example.com/news/wall-vote\n"
    (folder / "a-copy.txt").write_text(url + A)
    (folder / "b-copy.txt").write_text(url + A)
    (folder / "c-update.txt").write_text(url + B)
    summary = ingest_paths([str(folder)], settings)  # all three in one batch
    assert (summary.new, summary.unchanged, summary.revised) == (1, 1, 1)
    assert query(settings, "SELECT identity FROM articles") == [
        ("https://example.com/news/wall-vote",)
    ]
    assert query(settings, "SELECT revision, source FROM revisions ORDER BY revision") == [
        (1, str(folder / "a-copy.txt")),
        (2, str(folder / "c-update.txt")),
    ]


# --------------------------------------------------------------------------- skip extraction


def _load(folder: Path) -> list[SourceDocument]:
    loaded = load_documents(discover_files([str(folder)]).inputs, 10**6)
    assert all(isinstance(d, SourceDocument) for d in loaded)
    return [d for d in loaded if isinstance(d, SourceDocument)]


def by_identity(settings: Settings, documents: list[SourceDocument]) -> dict[str, LastObservation]:
    """The last observations of the documents' files, keyed as prepare_documents looks them up."""
    known = last_observations_by_input(settings, [d.source for d in documents])
    return {d.identity: known[d.source] for d in documents if d.source in known}


def test_unchanged_files_skip_extraction(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(A)
    (folder / "page.html").write_text(
        "<html><head><title>Wall vote</title></head><body><article><p>The council met on "
        "Tuesday and voted to rebuild the wall along the harbour front.</p><p>Work starts "
        "soon, officials said after the meeting.</p></article></body></html>"
    )
    ingest_paths([str(folder)], settings)
    second = ingest_paths([str(folder)], settings)
    assert (second.new, second.revised, second.unchanged) == (0, 0, 2)

    rows = query(
        settings,
        """
        SELECT identity, list(raw_hash ORDER BY observation_id),
               list(extractor_version ORDER BY observation_id),
               list(content_hash ORDER BY observation_id)
        FROM observations GROUP BY identity ORDER BY identity""",
    )
    assert [r[0] for r in rows] == ["file:a.txt", "file:page.html"]
    for _identity, raws, versions, contents in rows:
        assert len(raws) == 2 and len(set(raws)) == 1
        assert len(set(versions)) == 1 and len(set(contents)) == 1

    documents = _load(folder)
    known = by_identity(settings, documents)
    assert set(known) == {"file:a.txt", "file:page.html"}
    prepared = prepare_documents(documents, known)
    assert all(isinstance(p, KnownUnchanged) for p in prepared)
    latest = dict(query(settings, "SELECT identity, content_hash FROM latest_revisions"))
    for item in prepared:
        assert isinstance(item, KnownUnchanged)
        assert item.expected_content_hash == latest[item.document.identity]
        assert item.extractor_version == extractor_version(item.document.kind)

    # Changed bytes, or a different extractor version, mean extraction runs again.
    (folder / "a.txt").write_text(A + "\n")
    documents = _load(folder)
    stale_version = {
        "file:page.html": LastObservation(
            known["file:page.html"].raw_hash, "html-0", known["file:page.html"].content_hash
        ),
    }
    prepared = prepare_documents(documents, {**known, **stale_version})
    assert [type(p) for p in prepared] == [ExtractedArticle, ExtractedArticle]
    third = ingest_paths([str(folder)], settings)
    assert (third.unchanged, third.revised) == (2, 0)  # the content is the same after all


def assert_stored_again_as_revision_3(settings: Settings, prepared: list[Any]) -> None:
    """Storing a skipped A after another writer stored B makes A revision 3 (A → B → A)."""
    run_id = new_run_id()
    begin_run(settings, run_id, "ingest_files", orchestrator="local", arguments={})
    outcomes = store_batch(settings, run_id, prepared)
    assert [(o.outcome, o.revision) for o in outcomes] == [("revised", 3)]
    texts = [r[0] for r in query(settings, "SELECT text FROM revisions ORDER BY revision")]
    assert texts[0] == texts[2] != texts[1]


def test_a_skipped_source_revised_meanwhile_is_extracted_again(
    settings: Settings, story: Path
) -> None:
    ingest_version(settings, story, A)
    (document,) = _load(story.parent)
    prepared = prepare_documents([document], by_identity(settings, [document]))
    assert isinstance(prepared[0], KnownUnchanged)

    ingest_version(settings, story, B)  # another writer stores B meanwhile

    assert_stored_again_as_revision_3(settings, prepared)


# --------------------------------------------------------------------------- stat signatures


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test are seconds old at most: a signature is only recorded for a
    file older than the racy window, so the window is closed for these tests."""
    monkeypatch.setattr(load_module, "RACY_WINDOW_NS", 0)


def _prepare_folder(settings: Settings, folder: Path) -> list[Any]:
    return prepare_file_batch(settings, discover(([str(folder)]), settings).inputs)


def _signatures(settings: Settings) -> list[tuple[str, str | None]]:
    return query(
        settings, "SELECT identity, file_signature FROM observations ORDER BY observation_id"
    )


@pytest.mark.usefixtures("no_racy_window")
def test_a_file_with_its_last_stat_signature_is_not_read_again(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(A)
    (folder / "b.txt.gz").write_bytes(gzip.compress(C.encode()))
    ingest_paths([str(folder)], settings)
    recorded = _signatures(settings)
    stats = {name: (folder / name).stat() for name in ("a.txt", "b.txt.gz")}
    assert recorded == [
        (
            f"file:{name}",
            f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}",
        )
        for name, st in stats.items()
    ]

    prepared = _prepare_folder(settings, folder)
    assert [type(p) for p in prepared] == [KnownUnchanged, KnownUnchanged]
    assert all(p.document.raw == b"" for p in prepared)  # not read at all
    second = ingest_paths([str(folder)], settings)
    assert (second.new, second.revised, second.unchanged) == (0, 0, 2)
    rows = query(
        settings,
        "SELECT identity, count(DISTINCT raw_hash), count(DISTINCT file_signature), count(*) "
        "FROM observations GROUP BY identity ORDER BY identity",
    )
    assert rows == [("file:a.txt", 1, 1, 2), ("file:b.txt.gz", 1, 1, 2)]

    # Off: every file is read and hashed (and still not extracted: same bytes).
    reading = settings.model_copy(update={"trust_file_stat": False})
    prepared = _prepare_folder(reading, folder)
    assert [type(p) for p in prepared] == [KnownUnchanged, KnownUnchanged]
    assert all(p.document.raw for p in prepared)


@pytest.mark.usefixtures("no_racy_window")
def test_an_edit_that_keeps_size_and_mtime_is_still_seen(settings: Settings, story: Path) -> None:
    """A write changes the ctime, which no program can set back (utime sets it to now)."""
    ingest_version(settings, story, A)
    before = story.stat()
    edited = A.replace("Tuesday", "Fridays")
    assert len(edited) == len(A)
    story.write_text(edited)
    os.utime(story, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = story.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    summary = ingest_paths([str(story.parent)], settings)
    assert outcome_of(summary) == "revised"


def test_a_file_modified_within_the_racy_window_records_no_signature(
    settings: Settings, story: Path
) -> None:
    ingest_version(settings, story, A)  # just written: it may change again within one tick
    assert _signatures(settings) == [("file:story.txt", None)]
    prepared = _prepare_folder(settings, story.parent)
    assert isinstance(prepared[0], KnownUnchanged) and prepared[0].document.raw  # read
    old = time.time_ns() - 10 * 10**9
    os.utime(story, ns=(old, old))  # mtime back in time, but ctime is now: still racy
    assert load_module.file_signature(story.stat()) is None
    assert load_module.file_signature(story.stat(), now_ns=time.time_ns() + 3 * 10**9)


@pytest.mark.usefixtures("no_racy_window")
def test_a_signature_from_another_root_is_not_trusted(settings: Settings, tmp_path: Path) -> None:
    """The same path given through another folder has another identity: it is read."""
    folder = tmp_path / "in" / "sub"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text(A)
    ingest_paths([str(folder)], settings)  # identity file:a.txt
    prepared = _prepare_folder(settings, tmp_path / "in")  # identity file:sub/a.txt
    assert [type(p) for p in prepared] == [ExtractedArticle]
    assert prepared[0].document.identity == "file:sub/a.txt"


@pytest.mark.usefixtures("no_racy_window")
def test_a_stat_skipped_file_revised_meanwhile_is_read_again(
    settings: Settings, story: Path
) -> None:
    ingest_version(settings, story, A)
    prepared = _prepare_folder(settings, story.parent)
    assert isinstance(prepared[0], KnownUnchanged) and prepared[0].document.raw == b""

    other = story.parent.parent / "other" / "story.txt"  # another writer stores B meanwhile
    ingest_version(settings, other, B)
    assert query(settings, "SELECT count(*) FROM revisions") == [(2,)]

    assert_stored_again_as_revision_3(settings, prepared)

    # A file that vanished meanwhile ends as a recorded failure, not an exception.
    ingest_version(settings, other, C)
    story.unlink()
    run_id = new_run_id()
    begin_run(settings, run_id, "ingest_files", orchestrator="local", arguments={})
    outcomes = store_batch(settings, run_id, prepared)
    assert [(o.outcome, o.stage) for o in outcomes] == [("failed", "load")]


def test_a_batch_written_twice_in_one_run_is_stored_once(settings: Settings, story: Path) -> None:
    """What a retry does after a write that committed: the same run stores the same batch
    again. The batch key makes the second write return the first one's outcomes."""
    story.parent.mkdir(parents=True)
    story.write_text(A)
    (story.parent / "empty.txt").write_text("")
    run_id = new_run_id()
    begin_run(settings, run_id, "ingest_files", orchestrator="local", arguments={})
    prepared = prepare_file_batch(settings, discover([str(story.parent)], settings).inputs)

    first = store_batch(settings, run_id, prepared)
    again = store_batch(settings, run_id, prepared)
    assert [o.outcome for o in first] == ["failed", "new"]
    assert again == first
    assert query(
        settings, "SELECT outcome, count(*) FROM observations GROUP BY ALL ORDER BY 1"
    ) == [
        ("failed", 1),
        ("new", 1),
    ]
    assert query(settings, "SELECT count(*) FROM failures") == [(1,)]
    assert query(settings, "SELECT count(*) FROM batch_writes WHERE run_id = ?", [run_id]) == [(1,)]

    # Another run storing the same batch is a new observation, as it should be.
    other = new_run_id()
    begin_run(settings, other, "ingest_files", orchestrator="local", arguments={})
    assert [o.outcome for o in store_batch(settings, other, prepared)] == ["failed", "unchanged"]

    finish_run(settings, run_id, new=1, revised=0, unchanged=0, failed=1, skipped=0)
    assert query(settings, "SELECT count(DISTINCT run_id) FROM batch_writes") == [(1,)]


def test_input_state_is_the_last_successful_observation_of_each_input(
    settings: Settings, tmp_path: Path
) -> None:
    """The latest-row table that re-ingests read equals what the observations say, after new,
    revised, unchanged and failed observations (a failure does not replace the last success)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(A)
    (folder / "b.txt").write_text(B)
    ingest_paths([str(folder)], settings)
    (folder / "a.txt").write_text(C)
    ingest_paths([str(folder)], settings)
    (folder / "b.txt").write_bytes(b"\x00binary now")
    (folder / "c.txt").write_text(A)
    ingest_paths([str(folder)], settings)

    expected = query(
        settings,
        "SELECT input, arg_max(observation_id, observation_id), arg_max(raw_hash, observation_id) "
        "FROM observations WHERE outcome <> 'failed' GROUP BY input ORDER BY input",
    )
    state = query(
        settings, "SELECT input, observation_id, raw_hash FROM input_state ORDER BY input"
    )
    assert state == expected
    assert [Path(row[0]).name for row in state] == ["a.txt", "b.txt", "c.txt"]
    failed = query(settings, "SELECT count(*) FROM observations WHERE outcome = 'failed'")
    assert failed == [(1,)]  # b.txt failed last, and input_state still has its last success


def test_begin_and_finish_can_be_retried(settings: Settings) -> None:
    """Both are Prefect tasks with retries: a second attempt after a committed first one must
    neither fail on the existing run row nor change it."""
    run_id = new_run_id()
    for _attempt in range(2):
        begin_run(settings, run_id, "ingest_files", orchestrator="local", arguments={"x": 1})
    for _attempt in range(2):
        finish_run(settings, run_id, new=1, revised=0, unchanged=2, failed=0, skipped=0)
    assert query(
        settings, "SELECT status, new_count, unchanged_count, arguments FROM ingest_runs"
    ) == [("completed", 1, 2, '{"x": 1}')]


def test_failed_inputs_in_a_batch_do_not_block_the_others(settings: Settings) -> None:
    run_id = new_run_id()
    failures = [
        FailedInput(f"/x/{i}.txt", "load", "empty", f"/x/{i}.txt: the file is empty")
        for i in range(3)
    ]
    outcomes = store_batch(settings, run_id, failures)
    assert [o.outcome for o in outcomes] == ["failed"] * 3
    assert query(settings, "SELECT count(*) FROM failures WHERE run_id = ?", [run_id]) == [(3,)]


# --------------------------------------------------------------------------- reader and lock


def test_open_reader_is_read_only_and_locked_down(settings: Settings, story: Path) -> None:
    ingest_version(settings, story, A)
    with open_reader(settings) as conn:
        assert conn.execute("SELECT count(*) FROM revisions").fetchone() == (1,)
        for statement in (
            "DELETE FROM revisions",
            "UPDATE revisions SET text = 'x'",
            "DROP TABLE revisions",
            "SELECT * FROM read_csv('/etc/passwd')",
            "ATTACH '/tmp/other.duckdb'",
            "SET enable_external_access = true",
            "INSTALL httpfs",
        ):
            with pytest.raises(duckdb.Error):
                conn.execute(statement)
    assert query(settings, "SELECT count(*) FROM revisions") == [(1,)]


def test_open_reader_without_a_ledger_says_what_to_do(settings: Settings) -> None:
    with pytest.raises(StoreError, match="newsledger ingest"), open_reader(settings):
        pass
    assert not settings.db.exists()


HOLD_LOCK = textwrap.dedent("""
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.readline()
    conn.close()
    print("released", flush=True)
    time.sleep(30)
""")


def test_writers_wait_for_the_file_lock_and_give_up_with_a_clear_error(
    settings: Settings, story: Path
) -> None:
    ingest_version(settings, story, A)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(settings.db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DatabaseLockedError, match="stayed locked by another process"):
            connect_with_retry(settings.db, read_only=True, timeout=0.3)
        impatient = settings.model_copy(update={"lock_timeout_seconds": 0.3})
        with pytest.raises(DatabaseLockedError):
            ingest_version(impatient, story, B)
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        # Released: a patient writer gets in.
        assert outcome_of(ingest_version(settings, story, B)) == "revised"
    finally:
        holder.kill()
        holder.wait()
    assert query(settings, "SELECT count(*) FROM revisions") == [(2,)]
