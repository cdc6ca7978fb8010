"""What a feed says of a story (entry title, times, authors, summary), kept beside what its
page says: stored by every poll that reads the entry (``feed_entries``, a new row only when the
entry changes), joined to the observation of the page it led to (``feed_entry_metadata``),
standing in where the page states nothing (``story_metadata``, ``newsledger history``), and
never changing a revision. Real fixture HTTP server, real DuckDB files, the real CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from fixture_site import FixtureSite
from newsledger.tasks.api import open as open_ledger
from newsledger.tasks.crawl import run_poll, run_url_ingest
from newsledger.tasks.feeds import SUMMARY_CHARS
from test_cli import clean_env
from test_web import SENTENCES, article_html, feed_list, rows, scalar, web_settings

DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'


def untitled_html() -> str:
    """A story page that states no title, no byline and no date: only its paragraphs."""
    paragraphs = "".join(f"<p>{sentence}</p>" for sentence in SENTENCES for _ in range(2))
    return f'<!DOCTYPE html><html lang="en"><body><div>{paragraphs}</div></body></html>'


def rss_items(items: list[str]) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {DC}><channel>'
        f"<title>Metadata News</title>{''.join(items)}</channel></rss>"
    )


def item(link: str, title: str, **extra: str) -> str:
    fields = "".join(f"<{tag}>{value}</{tag}>" for tag, value in extra.items())
    return f"<item><title>{title}</title><link>{link}</link>{fields}</item>"


def serve_feed(site: FixtureSite, items: list[str]) -> None:
    # not conditional: every poll gets a 200 with the whole feed, as from most CMSs
    site.set_page(
        "/meta.xml", rss_items(items), content_type="application/rss+xml", conditional=False
    )


def test_feed_titles_dates_and_authors_are_stored_beside_the_observation(
    site: FixtureSite, tmp_path: Path
) -> None:
    site.set_page("/titled.html", article_html("The page's own headline"))
    site.set_page("/untitled.html", untitled_html())
    titled, untitled = site.url("/titled.html"), site.url("/untitled.html")
    serve_feed(
        site,
        [
            item(
                titled,
                "The feed's headline",
                pubDate="Tue, 02 Sep 2025 12:30:00 +0200",
                **{"dc:creator": "Ana Lima and Bo Chen"},
                description="<p>A <b>short</b> summary &amp; more.</p>",
            ),
            item(
                untitled,
                "Tram line vote",
                pubDate="Wed, 03 Sep 2025 04:30:00 GMT",
                **{"dc:creator": "Cara Diaz"},
            ),
        ],
    )
    settings = web_settings(tmp_path)
    summary, _ = run_poll(feed_list(tmp_path, {"Metadata": site.url("/meta.xml")}), settings)
    assert (summary.new, summary.failed) == (2, 0), summary.failures

    stored = rows(
        settings,
        "SELECT url, guid, title, published_at, updated_at, authors, summary, run_id "
        "FROM feed_entries ORDER BY url",
    )
    assert stored == [
        (
            titled,
            None,
            "The feed's headline",
            datetime(2025, 9, 2, 10, 30, tzinfo=UTC),
            None,
            ["Ana Lima", "Bo Chen"],
            "A short summary & more.",
            summary.run_id,
        ),
        (
            untitled,
            None,
            "Tram line vote",
            datetime(2025, 9, 3, 4, 30, tzinfo=UTC),
            None,
            ["Cara Diaz"],
            None,
            summary.run_id,
        ),
    ]
    # Each entry is joined to its story and to the observation of the page it led to.
    linked = rows(
        settings,
        "SELECT m.url, m.feed_name, m.is_latest, m.observed_revision, "
        "m.article_id = o.article_id, m.observation_id = o.observation_id "
        "FROM feed_entry_metadata AS m JOIN observations AS o ON o.input = m.url ORDER BY 1",
    )
    assert linked == [
        (titled, "Metadata", True, 1, True, True),
        (untitled, "Metadata", True, 1, True, True),
    ]
    # The page's own title wins; where the page states none, the feed's stands in, flagged.
    metadata = {
        row[0]: row[1:]
        for row in rows(
            settings,
            "SELECT identity, title, title_source, authors, authors_source, published_at, "
            "published_time_known, published_source, feed_title FROM story_metadata",
        )
    }
    assert metadata[titled][:2] == ("The page's own headline", "page")
    assert metadata[titled][-1] == "The feed's headline"
    assert metadata[untitled] == (
        "Tram line vote",
        "feed",
        ["Cara Diaz"],
        "feed",
        datetime(2025, 9, 3, 4, 30, tzinfo=UTC),
        True,
        "feed",
        "Tram line vote",
    )
    # The revisions are the page's alone: the same pages ingested by URL (no feed) give the
    # very same content hashes, titles and bylines.
    alone = web_settings(tmp_path / "alone")
    run_url_ingest([titled, untitled], alone)
    revision_columns = (
        "SELECT identity, content_hash, title, authors FROM latest_revisions ORDER BY 1"
    )
    assert rows(settings, revision_columns) == rows(alone, revision_columns)
    assert rows(settings, "SELECT title FROM revisions WHERE source = ?", [untitled]) == [(None,)]

    # Where a user reads it: the Python API and `newsledger history`.
    ledger = open_ledger(settings.db)
    (entry,) = ledger.feed_entries(untitled).fetchall()
    assert "Tram line vote" in entry and ["Cara Diaz"] in entry
    assert len(ledger.feed_entries().fetchall()) == 2
    history = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsledger.flows.cli",
            "history",
            untitled,
            "--db",
            str(settings.db),
        ],
        capture_output=True,
        text=True,
        env=clean_env(COLUMNS="250"),
        timeout=120,
    )
    assert history.returncode == 0, history.stderr
    assert "Tram line vote (feed)" in history.stdout
    assert "2025-09-03 04:30 UTC (feed)" in history.stdout
    assert "what the feed Metadata says" in history.stdout


def test_a_repoll_of_unchanged_entries_adds_nothing_and_an_edited_entry_one_row(
    site: FixtureSite, tmp_path: Path
) -> None:
    site.set_page("/a.html", article_html("Story A"))
    site.set_page("/b.html", article_html("Story B"))
    a, b = site.url("/a.html"), site.url("/b.html")
    date = "Tue, 02 Sep 2025 12:30:00 GMT"
    serve_feed(site, [item(a, "A first", pubDate=date), item(b, "B", pubDate=date)])
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"Metadata": site.url("/meta.xml")})
    run_poll(feeds, settings)
    before = rows(settings, "SELECT * FROM feed_entries ORDER BY feed_entry_id")
    assert len(before) == 2

    for _ in range(1):  # re-running converges: the feed answers 200 with the same entries
        _summary, poll = run_poll(feeds, settings, everything=True)
        assert poll.feeds_polled == 1 and poll.feeds_not_modified == 0
        assert rows(settings, "SELECT * FROM feed_entries ORDER BY feed_entry_id") == before
    assert site.count("/meta.xml") == 2

    # The feed rewrites A's headline: one new version of A's entry, the old one kept; the
    # page itself is unchanged, so the story gets no revision from it.
    serve_feed(site, [item(a, "A rewritten", pubDate=date), item(b, "B", pubDate=date)])
    run_poll(feeds, settings, everything=True)
    run_poll(feeds, settings, everything=True)
    assert rows(
        settings,
        "SELECT title, is_latest FROM feed_entry_metadata WHERE url = ? ORDER BY feed_entry_id",
        [a],
    ) == [("A first", False), ("A rewritten", True)]
    assert scalar(settings, "SELECT count(*) FROM feed_entries") == 3
    assert scalar(settings, "SELECT count(*) FROM revisions") == 2
    assert scalar(settings, "SELECT feed_title FROM story_metadata WHERE identity = ?", [a]) == (
        "A rewritten"
    )


def test_malformed_entry_metadata_never_fails_the_entry(site: FixtureSite, tmp_path: Path) -> None:
    pages = [f"/bad/{i}.html" for i in range(6)]
    for i, path in enumerate(pages):
        site.set_page(path, article_html(f"Bad metadata story {i}"))
    links = [site.url(path) for path in pages]
    huge = "word " * 50_000
    serve_feed(
        site,
        [
            item(links[0], "Unreadable date", pubDate="not a date at all"),
            item(links[1], "Date far ahead", pubDate="Fri, 31 Dec 9999 23:59:59 GMT"),
            item(links[2], "<b>Broken &bogus; <i>markup", pubDate="Mon, 30 Feb 2025 10:00:00 GMT"),
            item(links[3], "", **{"dc:creator": "<span></span>"}, author="   "),
            item(links[4], "Inline article", description=f"<![CDATA[<div>{huge}</div>]]>"),
            f"<item><link>{links[5]}</link><title><![CDATA[<script>x()</script>]]></title>"
            "<pubDate></pubDate><dc:creator/></item>",
        ],
    )
    settings = web_settings(tmp_path)
    summary, poll = run_poll(feed_list(tmp_path, {"Metadata": site.url("/meta.xml")}), settings)

    assert (summary.new, summary.failed, summary.skipped) == (6, 0, 0), summary.failures
    assert not poll.failures and not poll.skips
    entries = {
        row[0]: row[1:]
        for row in rows(
            settings, "SELECT url, title, published_at, authors, length(summary) FROM feed_entries"
        )
    }
    assert sorted(entries) == sorted(links)
    assert entries[links[0]] == ("Unreadable date", None, [], None)
    assert entries[links[1]] == ("Date far ahead", None, [], None)  # bogus: > 2 days ahead
    assert entries[links[2]][0] == "Broken &bogus markup"  # tags gone, text kept
    assert entries[links[3]] == (None, None, [], None)
    assert entries[links[4]][3] == SUMMARY_CHARS  # an inlined article is cut, not stored whole
    assert entries[links[5]][:3] == (None, None, [])
    # every one of them is still joined to its stored page
    assert scalar(
        settings, "SELECT count(*) FROM feed_entry_metadata WHERE observed_revision = 1"
    ) == len(links)
