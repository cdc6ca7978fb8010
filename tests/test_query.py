"""The query layer of migration 002 on a small real ledger built through the ingest pipeline:
revision_changes, headline_changes, as_of between revisions, latest_revisions and
article_history, all from a plain read-only DuckDB connection with nothing of ours loaded; the
upgrade of an existing ledger; and the CLI's stats and exports."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from ledger_stories import StoryLedger, build_story_ledger, query
from newsledger.flows.cli import app
from newsledger.tasks.query import QueryError, export_query, ledger_stats, table_query
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import MIGRATIONS_DIR, ensure_ledger, story_summary_rows
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def stories(tmp_path_factory: pytest.TempPathFactory) -> StoryLedger:
    root = tmp_path_factory.mktemp("stories")
    settings = Settings(db=root / "ledger.duckdb", lock_timeout_seconds=30)
    return build_story_ledger(settings, root / "in")


def test_revision_changes_names_what_each_revision_changed(stories: StoryLedger) -> None:
    rows = query(
        stories.settings,
        "SELECT revision, title_changed, authors_changed, published_changed, modified_changed, "
        "text_changed, words_added, words_removed, word_count, previous_observed_at, "
        "since_previous FROM revision_changes WHERE article_id = ? ORDER BY revision",
        [stories.alpha],
    )
    t = stories.times
    first, second, third = rows
    assert first[:6] == (1, False, False, False, False, False)
    assert first[6] == first[8] and first[7] == 0  # revision 1: every word is new
    assert first[9] is None and first[10] is None
    assert second[:6] == (2, True, False, False, False, True)
    assert second[6] > 0 and second[7] > 0  # "envoy praised the mediators" went, "broke down" came
    assert second[9] == t["alpha", 1] and second[10] == t["alpha", 2] - t["alpha", 1]
    assert third[:6] == (3, False, True, False, True, True)
    assert third[9] == t["alpha", 2]


def test_revision_changes_word_counts_are_the_stored_ones(stories: StoryLedger) -> None:
    assert query(
        stories.settings,
        "SELECT count(*) FROM revision_changes AS c JOIN revisions AS r "
        "USING (article_id, revision) WHERE c.words_added <> r.words_added "
        "OR c.words_removed <> r.words_removed OR c.changed_fields <> r.changed_fields",
    ) == [(0,)]
    assert query(stories.settings, "SELECT count(*) FROM revision_changes") == [(4,)]


def test_headline_changes_gives_old_and_new_title_with_times(stories: StoryLedger) -> None:
    rows = query(
        stories.settings,
        "SELECT article_id, identity, old_revision, new_revision, old_title, new_title, "
        "old_observed_at, changed_at FROM headline_changes",
    )
    t = stories.times
    assert rows == [
        (
            stories.alpha,
            "file:alpha.txt",
            1,
            2,
            "Ceasefire talks resume in Doha",
            "Ceasefire talks collapse",
            t["alpha", 1],
            t["alpha", 2],
        ),
    ]


def test_as_of_shows_each_story_as_it_stood(stories: StoryLedger) -> None:
    t = stories.times
    tick = timedelta(microseconds=1)

    def as_of(moment: object) -> list[tuple[object, ...]]:
        return query(
            stories.settings,
            "SELECT identity, revision, title FROM as_of(?) ORDER BY identity",
            [moment],
        )

    assert as_of(t["alpha", 1] - tick) == []  # before anything was observed
    assert as_of(t["alpha", 1]) == [("file:alpha.txt", 1, "Ceasefire talks resume in Doha")]
    between = t["alpha", 1] + (t["alpha", 2] - t["alpha", 1]) / 2
    assert as_of(between) == [("file:alpha.txt", 1, "Ceasefire talks resume in Doha")]
    assert as_of(t["alpha", 2]) == [
        ("file:alpha.txt", 2, "Ceasefire talks collapse"),
        ("file:beta.txt", 1, "Floods close the old bridge"),
    ]
    assert [r[:2] for r in as_of(t["alpha", 3] - tick)] == [
        ("file:alpha.txt", 2),
        ("file:beta.txt", 1),
    ]
    assert [r[:2] for r in as_of(t["alpha", 3])] == [("file:alpha.txt", 3), ("file:beta.txt", 1)]
    # A string works too (read as a TIMESTAMPTZ).
    assert [r[:2] for r in as_of(t["alpha", 3].isoformat())] == [
        ("file:alpha.txt", 3),
        ("file:beta.txt", 1),
    ]


def test_as_of_now_is_latest_revisions_with_the_same_columns(stories: StoryLedger) -> None:
    with duckdb.connect(str(stories.settings.db), read_only=True) as conn:
        latest = conn.execute("SELECT * FROM latest_revisions ORDER BY article_id")
        latest_columns = [d[0] for d in latest.description]
        latest_rows = latest.fetchall()
        now = conn.execute("SELECT * FROM as_of(now()) ORDER BY article_id")
        assert [d[0] for d in now.description] == latest_columns
        assert now.fetchall() == latest_rows
        revision_columns = [r[0] for r in conn.execute("DESCRIBE revisions").fetchall()]
    # one coherent time column each (migration 010): the raw *_timestamp columns are folded
    # into published_at / modified_at, and the stated days come last
    timed = [c for c in revision_columns if c not in ("published_timestamp", "modified_timestamp")]
    assert latest_columns == [
        "identity",
        "source_kind",
        "first_seen_at",
        *timed,
        "published_date",
        "modified_date",
    ]
    assert [(r[3], r[4]) for r in latest_rows] == sorted([(stories.alpha, 3), (stories.beta, 1)])


def test_article_history_keeps_its_columns_and_counts(stories: StoryLedger) -> None:
    with duckdb.connect(str(stories.settings.db), read_only=True) as conn:
        cursor = conn.execute(
            "SELECT * FROM article_history WHERE article_id = ? ORDER BY revision", [stories.alpha]
        )
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    assert columns == [
        "article_id",
        "identity",
        "revision",
        "observed_at",
        "content_hash",
        "title",
        "word_count",
        "words_added",
        "words_removed",
        "changed_fields",
        "extractor_version",
        "source",
        "revision_count",
    ]
    assert [(r[2], r[-1]) for r in rows] == [(1, 3), (2, 3), (3, 3)]


def test_everything_works_from_plain_duckdb_with_nothing_loaded(stories: StoryLedger) -> None:
    config = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
    with duckdb.connect(str(stories.settings.db), read_only=True, config=config) as conn:
        for statement in (
            "SELECT count(*) FROM latest_revisions",
            "SELECT count(*) FROM article_history",
            "SELECT count(*) FROM revision_changes",
            "SELECT count(*) FROM headline_changes",
            "SELECT count(*) FROM as_of(now())",
            "SELECT count(*) FROM search_docs",
            "SELECT search_tokenize('Ceasefire talks, again!')",
        ):
            assert conn.execute(statement).fetchone() is not None, statement
        loaded = conn.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded "
            "AND extension_name IN ('fts', 'json')"
        ).fetchall()
    assert ("fts",) not in loaded


def test_migration_002_upgrades_an_existing_ledger(tmp_path: Path) -> None:
    """A ledger made by migration 001 alone keeps its rows and gains the query layer."""
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        )
        conn.execute((MIGRATIONS_DIR / "001_revision_ledger.sql").read_text(encoding="utf-8"))
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'revision_ledger', now())")
        conn.execute("INSERT INTO articles VALUES ('a1', 'file:a.txt', 'text', 'a.txt', now())")
        conn.execute(
            "INSERT INTO revisions (article_id, revision, observed_at, run_id, content_hash, "
            "title, authors, section_headings, update_notes, text, word_count, words_added, "
            "words_removed, changed_fields, extractor_version) VALUES "
            "('a1', 1, now() - INTERVAL 1 HOUR, 'r', 'h1', 'Old', [], [], [], 'one two', 2, 2, 0, "
            "[], 'x'), ('a1', 2, now(), 'r', 'h2', 'New', [], [], [], 'one three', 2, 1, 1, "
            "['title', 'text'], 'x')"
        )
    applied = ensure_ledger(Settings(db=db))
    assert applied[0] == 2
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT old_title, new_title FROM headline_changes").fetchall() == [
            ("Old", "New")
        ]
        assert conn.execute("SELECT revision FROM latest_revisions").fetchall() == [(2,)]
        assert conn.execute("SELECT index_name FROM duckdb_indexes() ORDER BY 1").fetchall() == [
            ("observations_article_id_idx",),
            ("revisions_article_id_idx",),
        ]
        # Migration 017 filled story_summary from the revisions the ledger already had.
        assert conn.execute(
            "SELECT article_id, revision, revisions, headline_changes, title, identity "
            "FROM story_summary"
        ).fetchall() == [("a1", 2, 2, 1, "New", "file:a.txt")]


def test_story_summary_is_what_the_revisions_say(stories: StoryLedger) -> None:
    """The batch writes kept story_summary (migration 017) equal, row for row, to what
    rebuilding it from every revision gives (tasks/sql/story_summary_rows.sql, every story)."""
    derived = story_summary_rows(only_listed=False).strip().rstrip(";")
    kept = query(stories.settings, "SELECT * FROM story_summary ORDER BY article_id")
    assert kept == query(stories.settings, f"SELECT * FROM ({derived}) ORDER BY article_id")
    revised = query(
        stories.settings,
        "SELECT count(*) FROM story_summary WHERE revisions > 1 AND revision = revisions",
    )
    assert revised[0][0] >= 1  # the ledger has revised stories, their latest revision listed


# --- stats and exports ----------------------------------------------------------------------


def test_ledger_stats_counts(stories: StoryLedger) -> None:
    stats = ledger_stats(stories.settings, days=7, top=5)
    totals = dict(zip(stats.totals.names, stats.totals.rows[0], strict=True))
    assert (totals["stories"], totals["revisions"], totals["edits"], totals["failures"]) == (
        2,
        4,
        2,
        0,
    )
    per_day = [
        dict(zip(stats.per_outlet_day.names, r, strict=True)) for r in stats.per_outlet_day.rows
    ]
    assert sum(r["new_stories"] for r in per_day) == 2
    assert sum(r["edits"] for r in per_day) == 2
    assert {r["outlet"] for r in per_day} == {"CNN", "BBC News"}
    assert stats.revisions_per_story.rows == [(1, 1, 50.0), (3, 1, 50.0)]
    top = dict(zip(stats.most_edited.names, stats.most_edited.rows[0], strict=True))
    assert (top["article_id"], top["revisions"], top["headline_changes"]) == (stories.alpha, 3, 1)
    assert top["latest_title"] == "Ceasefire talks collapse"


def test_stats_command_prints_the_tables(stories: StoryLedger) -> None:
    result = CliRunner().invoke(
        app, ["--db", str(stories.settings.db), "stats"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    for text in (
        "per outlet and day",
        "revisions per story",
        "most-edited stories",
        "BBC News",
        "Ceasefire talks collapse",
    ):
        assert text in result.output


def test_export_parquet_and_jsonl_round_trip(stories: StoryLedger, tmp_path: Path) -> None:
    settings = stories.settings
    parquet, jsonl = tmp_path / "latest.parquet", tmp_path / "out" / "history.jsonl"
    assert (
        export_query(settings, table_query(settings, "latest_revisions"), parquet, "parquet") == 2
    )
    assert (
        export_query(
            settings, "SELECT * FROM revision_changes ORDER BY article_id, revision", jsonl, "jsonl"
        )
        == 4
    )
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        original = conn.execute(
            "SELECT article_id, revision, title, authors, text, observed_at, published_at "
            "FROM latest_revisions ORDER BY article_id"
        ).fetchall()
        types = dict(
            conn.execute(
                "SELECT column_name, column_type FROM (DESCRIBE latest_revisions)"
            ).fetchall()
        )
    with duckdb.connect() as conn:
        back = conn.execute(
            "SELECT article_id, revision, title, authors, text, observed_at, published_at "
            f"FROM read_parquet('{parquet}') ORDER BY article_id"
        ).fetchall()
        back_types = dict(
            conn.execute(
                f"SELECT column_name, column_type FROM (DESCRIBE FROM read_parquet('{parquet}'))"
            ).fetchall()
        )
        lines = conn.execute(
            f"SELECT revision, title_changed, words_added FROM read_json('{jsonl}') "
            "ORDER BY article_id, revision"
        ).fetchall()
    assert back == original
    for column in ("authors", "observed_at", "published_at", "revision", "changed_fields"):
        assert back_types[column] == types[column]
    assert len(lines) == 4
    first = json.loads(jsonl.read_text(encoding="utf-8").splitlines()[0])
    assert {"article_id", "revision", "words_added", "title_changed"} <= set(first)


def test_export_command_and_sql_parquet(stories: StoryLedger, tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(stories.settings.db)
    out = tmp_path / "h.parquet"
    result = runner.invoke(
        app, ["--db", db, "export", "--table", "headline_changes", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1 rows" in result.output
    out2 = tmp_path / "q.jsonl"
    result = runner.invoke(
        app,
        [
            "--db",
            db,
            "export",
            "--query",
            "SELECT identity, revision FROM revision_changes ORDER BY 1, 2",
            "--format",
            "jsonl",
            "--output",
            str(out2),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["revision"] for line in out2.read_text().splitlines()] == [1, 2, 3, 1]
    out3 = tmp_path / "sql.parquet"
    result = runner.invoke(
        app,
        [
            "--db",
            db,
            "sql",
            "SELECT identity, title FROM latest_revisions",
            "--format",
            "parquet",
            "--output",
            str(out3),
        ],
    )
    assert result.exit_code == 0, result.output
    with duckdb.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM '{out}'").fetchone() == (1,)
        assert sorted(conn.execute(f"SELECT identity FROM '{out3}'").fetchall()) == [
            ("file:alpha.txt",),
            ("file:beta.txt",),
        ]


def test_export_refuses_unknown_tables_and_writes(stories: StoryLedger, tmp_path: Path) -> None:
    settings = stories.settings
    with pytest.raises(QueryError, match="no table or view named"):
        table_query(settings, "revisions; DROP TABLE revisions")
    target = tmp_path / "x.parquet"
    with pytest.raises(QueryError, match="read-only"):
        export_query(settings, "DELETE FROM revisions", target, "parquet")
    with pytest.raises(QueryError, match="cannot read or write other files"):
        export_query(settings, "SELECT * FROM read_text('/etc/hostname')", target, "parquet")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written temporary file either
    result = CliRunner().invoke(
        app, ["--db", str(settings.db), "sql", "SELECT 1", "--format", "parquet"]
    )
    assert result.exit_code == 2
