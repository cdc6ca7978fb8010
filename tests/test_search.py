"""Full-text search: text that only an older revision had is found and flagged, BM25 scores are
exactly those of the fts extension's own index, --since, chunked builds with merges give the
same index, the index is current after an ingest, and a refresh with nothing new does nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from ledger_stories import StoryLedger, build_story_ledger, ingest, query, write_story
from newsledger.flows.cli import app
from newsledger.tasks.search import (
    ANALYZER,
    load_fts,
    refresh_search_index,
    search,
    search_index_status,
)
from newsledger.tasks.settings import Settings
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def stories(tmp_path_factory: pytest.TempPathFactory) -> StoryLedger:
    root = tmp_path_factory.mktemp("search")
    settings = Settings(db=root / "ledger.duckdb", lock_timeout_seconds=30)
    return build_story_ledger(settings, root / "in")


def test_ingest_keeps_the_index_current(stories: StoryLedger) -> None:
    status = search_index_status(stories.settings)
    assert status.analyzer == ANALYZER
    assert (status.indexed_revisions, status.revisions, status.behind) == (4, 4, 0)
    assert status.current


def test_a_refresh_with_nothing_new_does_nothing(stories: StoryLedger) -> None:
    before = query(stories.settings, "SELECT count(*), max(updated_at) FROM search_state")
    report = refresh_search_index(stories.settings)
    assert report.skipped and report.indexed == 0 and report.chunks == 0
    assert query(stories.settings, "SELECT count(*), max(updated_at) FROM search_state") == before


def test_text_only_in_an_older_revision_is_found_and_flagged(stories: StoryLedger) -> None:
    # "The envoy praised the mediators in Doha" was in alpha's revision 1 only.
    results = search(stories.settings, "mediators Doha")
    assert set(results.terms) == {"mediat", "doha"}
    [hit] = results.hits
    assert (hit.article_id, hit.revision, hit.latest_revision) == (stories.alpha, 1, 3)
    assert not hit.in_latest
    assert "only in older revisions" in hit.note and "rev 1" in hit.note
    assert hit.matching_revisions == 1
    assert "praised the mediators in Doha" in hit.snippet
    assert set(hit.highlights) == {"mediators", "Doha"}
    assert hit.title == "Ceasefire talks resume in Doha"  # the title it had then

    [row] = search(stories.settings, "mediators Doha", all_revisions=True).hits
    assert (row.revision, row.in_latest) == (1, False)


def test_text_still_present_shows_the_latest_revision(stories: StoryLedger) -> None:
    # "Negotiators met for six hours" is in all three revisions of alpha.
    [hit] = search(stories.settings, "negotiators").hits
    assert (hit.revision, hit.latest_revision, hit.in_latest, hit.note) == (3, 3, True, "")
    assert hit.matching_revisions == 3
    rows = search(stories.settings, "negotiators", all_revisions=True).hits
    assert sorted(r.revision for r in rows) == [1, 2, 3]
    assert [r.in_latest for r in rows if r.revision == 3] == [True]
    assert all(not r.in_latest for r in rows if r.revision < 3)


def test_ranking_is_bm25_exactly_as_the_fts_extension(stories: StoryLedger) -> None:
    """Build the fts extension's own index over the same revisions and compare every score."""
    settings = stories.settings
    queries = ["ceasefire talks", "bridge", "six hours Tuesday", "Doha", "the city", "floods"]
    with duckdb.connect(str(settings.db), read_only=True) as source:
        rows = source.execute(
            "SELECT d.doc_id, r.article_id, r.revision, r.title, r.text FROM revisions AS r "
            "JOIN search_docs AS d USING (article_id, revision)"
        ).fetchall()
        load_fts(source)  # for stem(): the search_revisions macro stems the query
        ours = {
            q: sorted(
                source.execute(
                    "SELECT article_id, revision, score FROM search_revisions(?)", [q]
                ).fetchall()
            )
            for q in queries
        }
    with duckdb.connect() as conn:
        load_fts(conn)
        conn.execute(
            "CREATE TABLE docs (doc_id INTEGER, article_id VARCHAR, revision INTEGER, "
            "title VARCHAR, text VARCHAR)"
        )
        conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("PRAGMA create_fts_index('docs', 'doc_id', 'title', 'text')")
        for q in queries:
            theirs = sorted(
                conn.execute(
                    "SELECT article_id, revision, score FROM (SELECT *, "
                    "fts_main_docs.match_bm25(doc_id, ?) AS score FROM docs) "
                    "WHERE score IS NOT NULL",
                    [q],
                ).fetchall()
            )
            assert [r[:2] for r in ours[q]] == [r[:2] for r in theirs], q
            for mine, reference in zip(ours[q], theirs, strict=True):
                assert mine[2] == pytest.approx(reference[2], rel=1e-12), q
    # And the CLI's ranking follows the score: the story about the bridge first.
    hits = search(settings, "bridge ceasefire", all_revisions=True).hits
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].article_id == stories.beta  # "bridge" twice in a short story


def test_since_keeps_recent_revisions(stories: StoryLedger) -> None:
    t = stories.times
    everything = search(stories.settings, "negotiators", all_revisions=True)
    assert len(everything.hits) == 3
    recent = search(stories.settings, "negotiators", all_revisions=True, since=t["alpha", 2])
    assert sorted(h.revision for h in recent.hits) == [2, 3]
    later = t["alpha", 3] + timedelta(seconds=1)
    assert search(stories.settings, "negotiators", since=later).hits == []
    # Per story: the story still counts, from its revisions since then.
    [hit] = search(stories.settings, "negotiators", since=t["alpha", 3]).hits
    assert hit.revision == 3


def test_limit_and_unknown_words(stories: StoryLedger) -> None:
    assert len(search(stories.settings, "ceasefire", all_revisions=True, limit=2).hits) == 2
    nothing = search(stories.settings, "zyxxyz")
    assert nothing.hits == [] and nothing.terms == ()
    assert search(stories.settings, "the and of").hits == []  # stop words only


def test_new_text_is_searchable_after_the_next_ingest(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "l.duckdb", lock_timeout_seconds=30)
    folder = tmp_path / "in"
    write_story(folder, "a.txt", title="Harbour plans", paragraphs=["The harbour will grow."])
    ingest(settings, folder)
    assert search(settings, "lighthouse").hits == []
    write_story(
        folder,
        "a.txt",
        title="Harbour plans",
        paragraphs=["The harbour will grow.", "A new lighthouse is planned."],
    )
    write_story(folder, "b.txt", title="Lighthouse keepers", paragraphs=["Keepers retire."])
    ingest(settings, folder)  # the pipeline refreshes the index at the end of the run
    status = search_index_status(settings)
    assert status.current and status.indexed_revisions == 3
    hits = search(settings, "lighthouse").hits
    assert {(h.identity, h.revision, h.in_latest) for h in hits} == {
        ("file:a.txt", 2, True),
        ("file:b.txt", 1, True),
    }


def test_chunked_build_with_merges_gives_the_same_index(
    stories: StoryLedger, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(stories.settings.db.read_bytes())
    small = Settings(
        db=copy, lock_timeout_seconds=30, search_chunk_revisions=1, search_merge_fanout=2
    )
    report = refresh_search_index(small, rebuild=True)
    assert report.rebuilt and report.indexed == 4 and report.chunks == 4
    assert report.merges >= 2
    runs = query(small, "SELECT level, count(*) FROM search_runs GROUP BY level ORDER BY level")
    assert runs[-1][0] >= 2  # merged twice over
    assert query(small, "SELECT count(*) FROM search_postings") == query(
        stories.settings, "SELECT count(*) FROM search_postings"
    )
    for q in ("ceasefire talks", "bridge", "mediators Doha"):
        one = [
            (h.article_id, h.revision, round(h.score, 12))
            for h in search(stories.settings, q, all_revisions=True).hits
        ]
        many = [
            (h.article_id, h.revision, round(h.score, 12))
            for h in search(small, q, all_revisions=True).hits
        ]
        assert one == many, q


def test_a_changed_analyzer_rebuilds_the_index(stories: StoryLedger, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(stories.settings.db.read_bytes())
    settings = Settings(db=copy, lock_timeout_seconds=30)
    with duckdb.connect(str(copy)) as conn:
        conn.execute("UPDATE search_state SET analyzer = 'an older analyzer'")
    assert not search_index_status(settings).current
    report = refresh_search_index(settings)
    assert report.rebuilt and report.indexed == 4
    assert search_index_status(settings).current


def test_search_command_table_and_json(stories: StoryLedger) -> None:
    runner = CliRunner()
    db = str(stories.settings.db)
    result = runner.invoke(app, ["--db", db, "search", "mediators Doha"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Ceasefire talks resume in Doha" in result.output
    assert "rev 1 of 3" in result.output and "only in older revisions" in result.output
    assert "file:alpha.txt" in result.output
    result = runner.invoke(
        app,
        [
            "--db",
            db,
            "search",
            "bridge",
            "--all-revisions",
            "--format",
            "json",
            "--since",
            "2000-01-01",
        ],
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["identity"] == "file:beta.txt" and row["in_latest"] is True
    result = runner.invoke(app, ["--db", db, "search", "bridge", "--since", "yesterday-ish"])
    assert result.exit_code != 0


def test_search_from_plain_duckdb_with_nothing_loaded(stories: StoryLedger) -> None:
    """The search_revisions macro needs no extension: word forms map to stems in search_words."""
    config = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
    with duckdb.connect(str(stories.settings.db), read_only=True, config=config) as conn:
        rows = conn.execute(
            "SELECT article_id, revision FROM search_revisions('Mediators') ORDER BY score DESC"
        ).fetchall()
        loaded = conn.execute(
            "SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = 'fts'"
        ).fetchone()
    assert rows == [(stories.alpha, 1)]
    assert loaded == (0,)


def test_words_the_ledger_never_contained_are_stemmed(stories: StoryLedger) -> None:
    """'negotiating' never occurs, but its stem is that of 'Negotiators' (in every revision)."""
    assert query(
        stories.settings, "SELECT count(*) FROM search_words WHERE word = 'negotiating'"
    ) == [(0,)]
    results = search(stories.settings, "negotiating")
    assert results.terms == ("negoti",)
    assert [(h.article_id, h.revision) for h in results.hits] == [(stories.alpha, 3)]
    assert "Negotiators" in results.hits[0].highlights
