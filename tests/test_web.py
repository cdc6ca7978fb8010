"""Web ingestion end to end (tasks/crawl/) against a real HTTP server on 127.0.0.1.

A fixture news site (tests/fixture_site.py) serves RSS and Atom feeds, article pages, pages
that change between polls, 304s, and the standard misbehaviours. Every run goes through the
plain runs of ``newsledger.tasks.crawl`` into a real DuckDB file in a temporary folder. No
transport is mocked; the only stand-ins are pass-through spies that count extractions.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fixture_site import OK_HTML, FixtureSite, Reply
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from newsledger.tasks import clean, pipeline
from newsledger.tasks.clean import extractor_version
from newsledger.tasks.crawl import (
    PLAIN_WEB_STEPS,
    PageTarget,
    fetch_pages,
    interleave_hosts,
    retry_delay,
    revisit_interval,
    run_poll,
    run_refresh,
    run_reprocess,
    run_retry,
    run_url_ingest,
    store_pages,
    watch_article,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import begin_run

MiB = 1024 * 1024

# --------------------------------------------------------------------------- the news site

SENTENCES = (
    "The city council met on Tuesday evening to debate the new budget for public transport.",
    "Members argued at length about the cost of extending the tram line to the northern "
    "districts, which have grown quickly over the past decade.",
    "Residents who attended the meeting said they had waited years for a reliable service.",
    "The mayor promised that a final decision would be taken before the end of the month.",
    "Opposition members asked for an independent review of the engineering estimates.",
)


def article_html(
    title: str,
    note: str = "",
    *,
    canonical: str | None = None,
    lang: str = "en",
    sentences: tuple[str, ...] = SENTENCES,
) -> str:
    """A realistic enough article page for trafilatura: a title, a byline and paragraphs."""
    head = f"<title>{title}</title>"
    if canonical:
        head += f'<link rel="canonical" href="{canonical}">'
    paragraphs = "".join(
        f"<p>{title}: {sentence} {note}</p>" for sentence in sentences for _ in range(2)
    )
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>'
        '<nav><a href="/">Home</a> <a href="/world">World</a></nav>'
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>Copyright Fixture News</footer></body></html>"
    )


def rss(site: FixtureSite, links: list[str], title: str = "Fixture News") -> str:
    items = "".join(
        f"<item><title>Item {i}</title><link>{_absolute(site, link)}</link>"
        f'<guid isPermaLink="false">rss-{i}</guid>'
        f"<pubDate>{email.utils.formatdate(usegmt=True)}</pubDate></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>{site.url('/')}</link>{items}</channel></rss>"
    )


def atom(site: FixtureSite, links: list[str]) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = "".join(
        f'<entry><title>Entry {i}</title><link rel="alternate" href="{_absolute(site, link)}"/>'
        f"<id>urn:fixture:{i}</id><updated>{now}</updated></entry>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Fixture Atom</title><id>urn:fixture</id><updated>{now}</updated>{entries}</feed>"
    )


def _absolute(site: FixtureSite, link: str) -> str:
    return link if link.startswith("http") else site.url(link)


def serve_rss(site: FixtureSite, path: str, links: list[str]) -> None:
    site.set_page(path, rss(site, links), content_type="application/rss+xml")


def serve_atom(site: FixtureSite, path: str, links: list[str]) -> None:
    site.set_page(path, atom(site, links), content_type="application/atom+xml")


def serve_articles(site: FixtureSite, count: int, prefix: str = "/news/") -> list[str]:
    paths = [f"{prefix}{i}.html" for i in range(count)]
    for i, path in enumerate(paths):
        site.set_page(path, article_html(f"Story {prefix.strip('/')} {i}"))
    return paths


def feed_list(tmp_path: Path, feeds: dict[str, str], name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    lines = ["feeds:"]
    for feed_name, url in feeds.items():
        lines += [f"  - name: {feed_name}", f"    url: {url}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def web_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db": tmp_path / "ledger.duckdb",
        "prefect_home": tmp_path / ".prefect",
        "allowed_hosts": ["127.0.0.1"],
        "per_host_delay_seconds": 0.0,
        "per_host_concurrency": 8,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "connect_timeout": 1.0,
        "read_timeout": 0.5,
        "total_timeout": 1.0,
        "max_retries": 2,
        "max_response_bytes": 1 * MiB,
        "max_decompressed_bytes": 1 * MiB,
        "lock_timeout_seconds": 30,
    }
    values.update(overrides)
    return Settings(**values)


def rows(settings: Settings, query: str, params: dict[str, Any] | None = None) -> list[Any]:
    conn = duckdb.connect(str(settings.db), read_only=True)
    try:
        return conn.execute(query, params or {}).fetchall()
    finally:
        conn.close()


def scalar(settings: Settings, query: str, params: dict[str, Any] | None = None) -> Any:
    return rows(settings, query, params)[0][0]


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Identities extracted by the pipeline (a pass-through spy on ``extract_document``)."""
    seen: list[str] = []
    original = pipeline.extract_document

    def spy(document: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(document.identity)
        return original(document, *args, **kwargs)

    monkeypatch.setattr(pipeline, "extract_document", spy)
    return seen


# --------------------------------------------------------------------------- polling


def test_poll_stores_every_article_of_rss_and_atom_feeds(site: FixtureSite, tmp_path: Path) -> None:
    pages = serve_articles(site, 6)
    serve_rss(site, "/rss.xml", pages[:4])
    serve_atom(site, "/atom.xml", pages[3:])  # /news/3.html is in both feeds: one story
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml"), "atom": site.url("/atom.xml")})

    summary, poll = run_poll(feeds, settings)

    assert (summary.new, summary.revised, summary.failed) == (6, 0, 0), summary.failures
    assert poll.feeds_polled == 2 and poll.entries_seen == 7 and not poll.failures
    assert {r["status"] for r in poll.feed_reports} == {"ok"}
    stored = rows(settings, "SELECT identity, revision, title FROM latest_revisions")
    assert sorted((identity, rev) for identity, rev, _ in stored) == sorted(
        (site.url(p), 1) for p in pages
    )
    assert scalar(settings, "SELECT count(*) FROM revisions") == 6
    assert all(site.count(p) == 1 for p in pages)  # every page fetched exactly once
    # Every discovered URL is tracked, linked to its article and its feed.
    tracked = rows(
        settings,
        "SELECT t.url, t.feed_url, t.article_id = a.article_id, t.consecutive_failures, "
        "t.next_check_at > t.last_fetched_at FROM tracked_urls t "
        "JOIN article_identities a ON a.identity = t.url ORDER BY t.url",
    )
    assert len(tracked) == 6
    assert all(same and failures == 0 and later for _, _, same, failures, later in tracked)
    assert {feed for _, feed, *_ in tracked} == {site.url("/rss.xml"), site.url("/atom.xml")}
    # Nothing is due for a revisit yet: a plain refresh asks the server for nothing.
    asked = len(site.requests())
    assert run_refresh(settings).total == 0 and len(site.requests()) == asked
    # The run is recorded as completed with its counts.
    assert rows(
        settings,
        "SELECT flow, status, new_count, failed_count FROM ingest_runs ORDER BY started_at",
    ) == [("poll_feeds", "completed", 6, 0), ("refresh_articles", "completed", 0, 0)]


def test_a_feed_and_its_first_page_are_a_politeness_delay_apart(
    site: FixtureSite, tmp_path: Path
) -> None:
    """The README promises at least 1 s between requests to one host: also between the feed
    (fetched by the poll) and its first page (fetched by the next step, another Fetcher)."""
    pages = serve_articles(site, 2)
    serve_rss(site, "/rss.xml", pages)
    settings = web_settings(tmp_path, per_host_delay_seconds=1.0)
    summary, _poll = run_poll(feed_list(tmp_path, {"rss": site.url("/rss.xml")}), settings)
    assert summary.new == 2, summary.failures
    starts = sorted(r.started for r in site.requests() if r.path != "/robots.txt")
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # server-side arrival times; 50 ms allowance for the first request's connection setup
    assert len(gaps) == 2 and min(gaps) >= 1.0 - 0.05, gaps


def test_feed_state_is_stored(site: FixtureSite, tmp_path: Path) -> None:
    pages = serve_articles(site, 2)
    serve_rss(site, "/rss.xml", pages)
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml")})

    run_poll(feeds, settings)

    (state,) = rows(
        settings,
        "SELECT feed_url, name, etag, last_modified, last_status, last_polled_at, next_poll_at, "
        "consecutive_failures, last_error, entries_seen FROM feeds",
    )
    feed_url, name, etag, last_modified, status, polled, next_poll, failures, error, seen = state
    assert (feed_url, name, status, failures, error, seen) == (
        site.url("/rss.xml"),
        "rss",
        200,
        0,
        None,
        2,
    )
    assert etag == site.page_etag("/rss.xml")
    assert email.utils.parsedate_to_datetime(last_modified).tzinfo is not None
    assert next_poll - polled == timedelta(minutes=settings.feed_interval_minutes)


def test_second_poll_is_conditional_and_a_changed_page_becomes_revision_2(
    site: FixtureSite, tmp_path: Path, extractions: list[str]
) -> None:
    pages = serve_articles(site, 3)
    serve_rss(site, "/rss.xml", pages)
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml")})
    run_poll(feeds, settings)
    assert len(extractions) == 3
    raw_before = scalar(settings, "SELECT count(*) FROM raw_pages")

    # A poll before the feed is due does not even ask the server.
    summary, poll = run_poll(feeds, settings)
    assert poll.feeds_polled == 0 and summary.total == 0
    assert site.count("/rss.xml") == 1

    # Polling everything now: the feed is asked conditionally and answers 304.
    site.set_page(pages[1], article_html("Story news 1", "A correction was added later."))
    summary, poll = run_poll(feeds, settings, everything=True)
    second = site.requests("/rss.xml")[-1].headers
    assert second["if-none-match"] == site.page_etag("/rss.xml")
    assert "if-modified-since" in second
    assert poll.feeds_not_modified == 1 and poll.new_targets == [] and summary.total == 0
    assert scalar(settings, "SELECT last_status FROM feeds") == 304
    assert len(extractions) == 3  # no parsing, no extraction

    # Revisiting every story: 304 for the two unchanged pages, the changed one is revision 2.
    summary = run_refresh(settings, everything=True)
    assert (summary.new, summary.revised, summary.unchanged, summary.failed) == (0, 1, 2, 0)
    for path in pages:
        seen = site.requests(path)[-1].headers
        assert seen["if-none-match"] and seen["if-modified-since"], path
    assert extractions[3:] == [site.url(pages[1])]  # a 304 costs no extraction
    assert scalar(settings, "SELECT count(*) FROM raw_pages") == raw_before + 1
    history = rows(
        settings,
        "SELECT identity, revision, changed_fields FROM article_history "
        "ORDER BY identity, revision",
    )
    assert (site.url(pages[1]), 2, ["text"]) in history
    assert max(rev for _, rev, _ in history) == 2
    statuses = rows(
        settings,
        "SELECT f.url, f.status, f.raw_hash IS NULL, o.outcome FROM fetches f "
        "JOIN observations o ON o.run_id = f.run_id AND o.identity = f.url "
        "WHERE f.run_id = $run ORDER BY f.url",
        {"run": summary.run_id},
    )
    assert statuses == [
        (site.url(pages[0]), 304, True, "unchanged"),
        (site.url(pages[1]), 200, False, "revised"),
        (site.url(pages[2]), 304, True, "unchanged"),
    ]
    # The unchanged observations still point at the archived body they match.
    assert (
        scalar(
            settings,
            "SELECT count(*) FROM observations WHERE outcome = 'unchanged' "
            "AND raw_hash IN (SELECT raw_hash FROM raw_pages)",
        )
        == 2
    )


def test_robots_txt_is_kept_in_the_ledger_for_a_day(site: FixtureSite, tmp_path: Path) -> None:
    """Runs after the first reuse the stored robots.txt (one request per origin per day, not
    per run and batch) until it is older than robots_cache_hours; then it is asked again."""
    pages = serve_articles(site, 2)
    serve_rss(site, "/rss.xml", pages)
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml")})
    run_poll(feeds, settings)
    assert site.count("/robots.txt") == 1
    origin, status, body = rows(settings, "SELECT origin, status, body FROM robots_txt")[0]
    assert (origin, status) == (site.base_url, 200) and "Disallow: /private/" in body

    run_poll(feeds, settings, everything=True)
    run_refresh(settings, everything=True)
    assert site.count("/robots.txt") == 1  # feeds, then pages: no new robots.txt request

    # Rules changed at the origin are seen once the stored copy is older than the limit.
    site.set_robots("User-agent: *\nDisallow: /news/\n")
    with duckdb.connect(str(settings.db)) as conn:
        conn.execute("UPDATE robots_txt SET fetched_at = fetched_at - INTERVAL 25 HOURS")
    summary = run_refresh(settings, everything=True)
    assert site.count("/robots.txt") == 2
    assert summary.failed == 2 and {f.error for f in summary.failures} == {"robots"}
    assert "Disallow: /news/" in scalar(settings, "SELECT body FROM robots_txt")

    # robots_cache_hours = 0: every run asks.
    uncached = settings.model_copy(update={"robots_cache_hours": 0})
    run_poll(feeds, uncached, everything=True)
    run_poll(feeds, uncached, everything=True)
    assert site.count("/robots.txt") == 4


def test_a_page_batch_stored_twice_in_one_run_is_stored_once(
    site: FixtureSite, tmp_path: Path
) -> None:
    """A retried store-pages task: revisions, observations, the fetch log and the crawl state
    are written by the first attempt only, and the retry reports what it did."""
    pages = serve_articles(site, 3)
    settings = web_settings(tmp_path)
    run_id = "retried-run"
    begin_run(settings, run_id, "ingest_urls", orchestrator="local", arguments={})
    batch = fetch_pages(settings, [PageTarget(site.url(p)) for p in pages])
    first = store_pages(settings, run_id, batch)
    again = store_pages(settings, run_id, batch)
    assert [o.outcome for o in first] == ["new"] * 3 and again == first
    for table in ("revisions", "observations", "fetches", "tracked_urls", "raw_pages"):
        assert scalar(settings, f"SELECT count(*) FROM {table}") == 3, table


def test_feed_that_changed_brings_only_its_new_entries(site: FixtureSite, tmp_path: Path) -> None:
    pages = serve_articles(site, 4)
    serve_rss(site, "/rss.xml", pages[:2])
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml")})
    run_poll(feeds, settings)

    serve_rss(site, "/rss.xml", pages)  # two new entries on top of the old ones
    summary, poll = run_poll(feeds, settings, everything=True)

    assert [t.url for t in poll.new_targets] == [site.url(p) for p in pages[2:]]
    assert summary.new == 2 and summary.total == 2
    assert [site.count(p) for p in pages] == [1, 1, 1, 1]
    assert scalar(settings, "SELECT entries_seen FROM feeds") == 2 + 4


def test_entries_beyond_the_per_poll_cap_are_not_lost(site: FixtureSite, tmp_path: Path) -> None:
    pages = serve_articles(site, 5)
    serve_rss(site, "/rss.xml", pages)
    settings = web_settings(tmp_path, max_pages_per_poll=3)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml")})

    first, _ = run_poll(feeds, settings)
    second, _ = run_poll(feeds, settings, everything=True)  # the feed itself answers 304

    assert (first.new, second.new) == (3, 2)
    assert scalar(settings, "SELECT count(*) FROM articles") == 5
    assert [site.count(p) for p in pages] == [1] * 5


@pytest.mark.parametrize(
    ("recovery", "overlap"), [("poll", True), ("refresh", True), ("poll", False)]
)
def test_a_poll_that_dies_after_reading_its_feeds_loses_no_entry(
    site: FixtureSite, tmp_path: Path, recovery: str, overlap: bool
) -> None:
    pages = serve_articles(site, 3)
    serve_rss(site, "/rss.xml", pages)
    settings = web_settings(tmp_path, pipeline_overlap=overlap)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml")})

    def crash(*args: Any) -> Any:
        raise RuntimeError("the worker died while fetching pages")

    # the fetch step of either path: the overlapped fetch stage, or the serial batch fetch
    died = replace(PLAIN_WEB_STEPS, fetch_pages=crash, fetch_stream=crash)
    with pytest.raises(RuntimeError):
        run_poll(feeds, settings, steps=died)
    assert rows(settings, "SELECT status FROM ingest_runs") == [("failed",)]
    assert all(site.count(p) == 0 for p in pages)

    if recovery == "poll":
        summary, poll = run_poll(feeds, settings, everything=True)  # the feed answers 304 now
        assert poll.feeds_not_modified == 1
    else:
        summary = run_refresh(settings)  # the discovered URLs are due at once
    assert summary.new == 3
    assert scalar(settings, "SELECT count(*) FROM articles") == 3
    assert [site.count(p) for p in pages] == [1, 1, 1]


def test_an_unusable_feed_is_asked_again_unconditionally(site: FixtureSite, tmp_path: Path) -> None:
    site.set_page("/feed.html", OK_HTML, content_type="text/xml")  # a page, not a feed
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"html": site.url("/feed.html")})

    run_poll(feeds, settings)
    summary, poll = run_poll(feeds, settings, everything=True)

    assert "if-none-match" not in site.requests("/feed.html")[-1].headers
    assert poll.feeds_not_modified == 0 and summary.failed == 1
    assert rows(
        settings, "SELECT consecutive_failures, etag, last_error LIKE '%HTML%' FROM feeds"
    ) == [(2, None, True)]
    assert scalar(settings, "SELECT count(*) FROM failures WHERE stage = 'feed'") == 2


def test_batches_spread_over_hosts() -> None:
    targets = [PageTarget(f"http://a.example/{i}") for i in range(4)] + [
        PageTarget(f"http://b.example/{i}") for i in range(2)
    ]
    targets.append(PageTarget("http://c.example:8080/0"))

    order = [t.url.removeprefix("http://") for t in interleave_hosts(targets)]

    assert order == [
        "a.example/0",
        "b.example/0",
        "c.example:8080/0",
        "a.example/1",
        "b.example/1",
        "a.example/2",
        "a.example/3",
    ]
    assert interleave_hosts([]) == []


def test_a_slow_host_delays_only_its_own_pages(site: FixtureSite, tmp_path: Path) -> None:
    """The overlapped pipeline closes a batch on age, so the good pages fetched at once are
    stored while a slowloris page (one byte every 3 s) is still being fetched; and its
    retries end with its time budget (url_budget_seconds), not after 1 + max_retries
    attempts of total_timeout each."""
    good = serve_articles(site, 2)
    settings = web_settings(
        tmp_path,
        read_timeout=5.0,  # the drip never trips the read timeout: only the deadlines end it
        total_timeout=2.0,
        max_retries=3,
        url_budget_seconds=3.0,
        batch_max_age_seconds=0.2,
    )
    stored: list[int] = []
    context = pipeline.RunContext(on_progress=lambda done, _total: stored.append(done))

    summary = run_url_ingest(
        [site.url(p) for p in good] + [site.url("/stall")], settings, context=context
    )

    assert (summary.new, summary.failed) == (2, 1), summary.failures
    # the good pages were written (in one batch, or two if they arrived apart) before the slow
    # page ended, which came last in a batch of its own
    assert stored in ([2, 3], [1, 2, 3]), stored
    # attempt 1 ran into total_timeout (2 s); attempt 2 had the 1 s left of the budget; no
    # third: without the budget there would have been four attempts (8 s)
    assert len(site.requests("/stall")) == 2
    ((error, message),) = rows(settings, "SELECT error, message FROM failures")
    assert error == "timeout" and "time budget" in message, message


# --------------------------------------------------------------------------- misbehaviours

BAD_PAGES: dict[str, tuple[str, str, str]] = {
    # path: (stage, error code, a word the reason must contain)
    "/always-500": ("fetch", "http_500", "500"),
    "/reset": ("fetch", "connection", "connection"),
    "/drip": ("fetch", "timeout", "within"),
    "/stall": ("fetch", "timeout", "timeout"),
    "/big": ("fetch", "too_large", "bytes"),
    "/big-stream": ("fetch", "too_large", "bytes"),
    "/bomb.gz": ("fetch", "too_large", "decompresses"),
    "/loop/a": ("fetch", "redirects", "redirects"),
    "/redirect/private": ("fetch", "blocked", "10.0.0.1"),
    "/redirect/metadata": ("fetch", "blocked", "169.254.169.254"),
    "/private/secret.html": ("fetch", "robots", "robots.txt"),
    "/doc.pdf": ("fetch", "content_type", "application/pdf"),
    "/missing.html": ("fetch", "http_404", "404"),
    "/empty.html": ("clean", "no_content", "no main text"),
}


def test_misbehaving_web_ends_stored_or_recorded_and_loses_nothing(
    site: FixtureSite, tmp_path: Path, dialled: list[str]
) -> None:
    good = serve_articles(site, 5)
    site.add_failures(
        "/busy.html",
        failures=1,
        status=429,
        headers={"Retry-After": "1"},
        then=Reply(body=article_html("Busy story").encode(), headers={"Content-Type": "text/html"}),
    )
    site.add_failures(
        "/flaky.html",
        failures=2,
        status=500,
        then=Reply(
            body=article_html("Flaky story").encode(), headers={"Content-Type": "text/html"}
        ),
    )
    site.set_page("/empty.html", "<html><body></body></html>")
    recovering = ["/busy.html", "/flaky.html", "/retry-after", "/flaky"]
    serve_rss(site, "/rss.xml", [good[0], *recovering, *BAD_PAGES, good[1]])
    serve_atom(site, "/atom.xml", [good[2], "/redirect/private", good[3]])
    # Ill-formed XML (an unescaped '&', an unclosed tag): its entries are still used.
    broken = rss(site, [good[4], "/loop/a"]).replace(
        "<title>Item 0</title>", "<title>A & B</title>"
    )
    broken = broken.replace("<title>Item 1</title>", "<title>Item <b>1</title>")
    site.set_page("/broken.xml", broken, content_type="application/rss+xml")
    site.set_page("/not-a-feed.xml", OK_HTML, content_type="text/xml")
    site.add_failures("/down.xml", failures=-1, status=503)
    settings = web_settings(tmp_path)
    feeds = feed_list(
        tmp_path,
        {
            "rss": site.url("/rss.xml"),
            "atom": site.url("/atom.xml"),
            "broken": site.url("/broken.xml"),
            "html": site.url("/not-a-feed.xml"),
            "down": site.url("/down.xml"),
        },
    )

    summary, poll = run_poll(feeds, settings)  # must not raise

    stored = {row[0] for row in rows(settings, "SELECT identity FROM latest_revisions")}
    assert {site.url(p) for p in good + recovering} == stored
    assert site.count("/busy.html") == 2 and site.count("/flaky.html") == 3
    assert summary.new == len(good) + len(recovering)
    # The ill-formed feed was used; the two unusable feeds are recorded failures.
    reports = {r["feed"]: r for r in poll.feed_reports}
    assert reports["broken"]["status"] == "ok" and reports["broken"]["bozo"] is True
    assert reports["html"]["status"] == reports["down"]["status"] == "failed"
    feed_failures = {
        row[0]: row[1:]
        for row in rows(
            settings,
            "SELECT input, stage, error, message FROM failures WHERE stage = 'feed' "
            "OR input LIKE '%.xml'",
        )
    }
    assert feed_failures[site.url("/not-a-feed.xml")][:2] == ("feed", "not_a_feed")
    assert feed_failures[site.url("/down.xml")][:2] == ("fetch", "http_503")
    assert set(feed_failures) == {site.url("/not-a-feed.xml"), site.url("/down.xml")}
    state = dict(rows(settings, "SELECT feed_url, consecutive_failures FROM feeds"))
    assert state[site.url("/down.xml")] == 1 and state[site.url("/broken.xml")] == 0

    # Every bad page is a recorded failure with its stage, code and a reason for people.
    recorded = {
        row[0]: row[1:]
        for row in rows(settings, "SELECT input, stage, error, message FROM failures")
    }
    for path, (stage, code, word) in BAD_PAGES.items():
        got = recorded.get(site.url(path))
        assert got is not None, f"{path} was lost"
        assert got[:2] == (stage, code), (path, got)
        assert word.lower() in got[2].lower() and site.url(path) in got[2], (path, got)
    assert summary.failed == len(BAD_PAGES) + 2  # + the two feeds
    # ... and a tracked URL that will be retried later, unless policy refused it: then it
    # waits, without a failure count, until the policy changes (issue 13, defect 8).
    tracked = {
        row[0]: row[1:]
        for row in rows(
            settings,
            "SELECT url, consecutive_failures, gave_up, last_error, "
            "next_check_at > last_fetched_at, refused_policy IS NOT NULL FROM tracked_urls",
        )
    }
    for path, (_, code, _) in BAD_PAGES.items():
        failures, gave_up, error, later, refused = tracked[site.url(path)]
        if code in ("blocked", "robots"):
            assert (failures, gave_up, refused) == (0, False, True) and error, path
        else:
            assert (failures, gave_up, later, refused) == (1, False, True, False) and error, path
    # The SSRF guard never let the redirects reach their private targets.
    assert dialled and set(dialled) == {"127.0.0.1"}
    # Every listed URL ended stored or failed: nothing is unaccounted for.
    listed = {site.url(p) for p in good + recovering + list(BAD_PAGES)}
    assert listed == stored | {site.url(p) for p in BAD_PAGES}
    assert set(tracked) == listed


def test_latin1_page_without_charset_header_is_decoded_correctly(
    site: FixtureSite, tmp_path: Path
) -> None:
    words = (
        "Le conseil municipal s'est réuni mardi soir pour débattre du budget des transports.",
        "Les élus ont longuement discuté du coût du tramway vers les quartiers du nord.",
        "Les habitants présents ont dit qu'ils attendaient un service fiable depuis des années.",
        "Le maire a promis une décision définitive avant la fin du mois, déjà très attendue.",
    )
    page = article_html("Café crème à la mairie", lang="fr", sentences=words)
    body = page.replace('<meta charset="utf-8">', "").encode("latin-1")
    site.set_page("/fr/latin1.html", body, content_type="text/html")  # no charset anywhere
    settings = web_settings(tmp_path)

    summary = run_url_ingest([site.url("/fr/latin1.html")], settings)

    assert summary.new == 1, summary.failures
    title, text = rows(settings, "SELECT title, text FROM latest_revisions")[0]
    assert "réuni" in text and "déjà" in text and "élus" in text, text[:200]
    assert title == "Café crème à la mairie"


def test_non_html_and_unparseable_pages_are_failures_not_crashes(
    site: FixtureSite, tmp_path: Path
) -> None:
    site.set_page("/data.json", b'{"a": 1}', content_type="application/json")
    site.set_page("/garbage.html", bytes(range(256)) * 64, content_type="text/html")
    settings = web_settings(tmp_path)

    summary = run_url_ingest(
        [site.url("/data.json"), site.url("/garbage.html"), site.url("/ok.html")], settings
    )

    reasons = {f.input: (f.stage, f.error) for f in summary.failures}
    assert reasons[site.url("/data.json")] == ("fetch", "content_type")
    assert reasons[site.url("/garbage.html")][0] == "clean"
    assert summary.new == 1 and summary.failed == 2


# --------------------------------------------------------------------------- identity


def test_tracking_parameters_and_fragments_do_not_fork_a_story(
    site: FixtureSite, tmp_path: Path
) -> None:
    pages = serve_articles(site, 2)
    serve_rss(
        site,
        "/rss.xml",
        [
            pages[0] + "?utm_source=rss&utm_medium=feed#comments",
            pages[1] + "?fbclid=abc123",
        ],
    )
    serve_atom(site, "/atom.xml", [pages[0] + "#top", f"http://127.0.0.1:{site.port}{pages[1]}"])
    settings = web_settings(tmp_path)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml"), "atom": site.url("/atom.xml")})

    summary, _ = run_poll(feeds, settings)
    assert summary.new == 2
    assert sorted(r[0] for r in rows(settings, "SELECT identity FROM articles")) == [
        site.url(p) for p in pages
    ]
    assert [site.requests(p)[0].target for p in pages] == pages  # no tracker ever sent

    later = run_url_ingest(
        [
            site.url(pages[0]) + "?utm_campaign=newsletter#section-2",
            site.url(pages[0]).replace("http://", "HTTP://") + "?UTM_TERM=x",
        ],
        settings,
    )
    assert (later.new, later.unchanged) == (0, 1)
    assert scalar(settings, "SELECT count(*) FROM articles") == 2
    assert scalar(settings, "SELECT count(*) FROM tracked_urls") == 2


def test_canonical_link_joins_an_alias_to_the_same_story(site: FixtureSite, tmp_path: Path) -> None:
    canonical = site.url("/news/story.html")
    site.set_page("/news/story.html", article_html("Joined story", canonical=canonical))
    site.set_page("/amp/story.html", article_html("Joined story", canonical=canonical))
    # An alias seen BEFORE its canonical page still joins the same article.
    other = site.url("/news/other.html")
    site.set_page("/m/other.html", article_html("Other story", canonical=other))
    site.set_page("/news/other.html", article_html("Other story", canonical=other))
    settings = web_settings(tmp_path)

    first = run_url_ingest([canonical, site.url("/m/other.html")], settings)
    second = run_url_ingest([site.url("/amp/story.html"), other], settings)

    assert first.new == 2 and second.new == 0 and second.unchanged == 2, second.failures
    assert scalar(settings, "SELECT count(*) FROM articles") == 2
    identities = dict(rows(settings, "SELECT identity, article_id FROM article_identities"))
    assert identities[site.url("/amp/story.html")] == identities[canonical]
    assert identities[site.url("/m/other.html")] == identities[other]
    assert identities[canonical] != identities[other]
    # The alias URL is tracked (and revisited) as part of the joined article.
    tracked = dict(rows(settings, "SELECT url, article_id FROM tracked_urls"))
    assert tracked[site.url("/amp/story.html")] == identities[canonical]

    # An edit seen through the alias is a revision of the one story.
    site.set_page(
        "/amp/story.html",
        article_html("Joined story", "Updated with new figures.", canonical=canonical),
    )
    third = run_url_ingest([site.url("/amp/story.html")], settings)
    assert third.revised == 1
    assert rows(
        settings,
        "SELECT max(revision) FROM revisions WHERE article_id = $a",
        {"a": identities[canonical]},
    ) == [(2,)]


# --------------------------------------------------------------------------- failures, retries


def test_failures_back_off_and_are_given_up_after_max_attempts(
    site: FixtureSite, tmp_path: Path
) -> None:
    settings = web_settings(tmp_path, max_retries=0, max_failure_attempts=3, retry_base_minutes=10)
    url = site.url("/always-500")

    def state() -> tuple[Any, ...]:
        return tuple(
            rows(
                settings,
                "SELECT consecutive_failures, gave_up, next_check_at - last_fetched_at, "
                "last_error, last_status FROM tracked_urls WHERE url = $u",
                {"u": url},
            )[0]
        )

    summary = run_url_ingest([url], settings)
    assert summary.failed == 1 and summary.failures[0].error == "http_500"
    failures, gave_up, delay, error, status = state()
    assert (failures, gave_up, status) == (1, False, 500)
    assert "500" in error
    assert timedelta(minutes=9) < delay <= timedelta(minutes=10)  # later, not now

    assert run_retry(settings).failed == 1
    failures, gave_up, second_delay, *_ = state()
    assert (failures, gave_up) == (2, False) and second_delay > delay  # backing off

    assert run_retry(settings).failed == 1
    failures, gave_up, *_ = state()
    assert (failures, gave_up) == (3, True)

    asked = site.count("/always-500")
    assert run_retry(settings).total == 0  # given up: not retried ...
    assert run_refresh(settings, everything=True).total == 0  # ... nor revisited
    assert site.count("/always-500") == asked == 3
    # ... but still visible, with every attempt recorded.
    assert rows(
        settings,
        "SELECT count(*), min(stage), min(error) FROM failures WHERE input = $u",
        {"u": url},
    ) == [(3, "fetch", "http_500")]


def test_retry_fetches_failed_urls_again_and_clears_the_failure(
    site: FixtureSite, tmp_path: Path
) -> None:
    pages = serve_articles(site, 2)
    site.add_failures(
        "/comeback.html",
        failures=1,
        status=503,
        then=Reply(body=article_html("Comeback").encode(), headers={"Content-Type": "text/html"}),
    )
    serve_rss(site, "/rss.xml", [*pages, "/comeback.html"])
    settings = web_settings(tmp_path, max_retries=0)
    feeds = feed_list(tmp_path, {"rss": site.url("/rss.xml")})
    summary, _ = run_poll(feeds, settings)
    assert (summary.new, summary.failed) == (2, 1)

    retried = run_retry(settings)

    assert (retried.new, retried.failed, retried.total) == (1, 0, 1)
    assert [site.count(p) for p in pages] == [1, 1]  # only the failing URL was fetched again
    assert rows(
        settings,
        "SELECT consecutive_failures, last_error, gave_up, article_id IS NOT NULL "
        "FROM tracked_urls WHERE url = $u",
        {"u": site.url("/comeback.html")},
    ) == [(0, None, False, True)]
    assert run_retry(settings).total == 0  # nothing failing any more


def test_ssrf_guard_is_on_by_default(site: FixtureSite, tmp_path: Path) -> None:
    settings = web_settings(tmp_path, allowed_hosts=[])

    summary = run_url_ingest([site.url("/ok.html")], settings)

    assert [(f.stage, f.error) for f in summary.failures] == [("fetch", "blocked")]
    assert "loopback" in summary.failures[0].message
    assert site.count("/ok.html") == 0 and site.count("/robots.txt") == 0
    assert rows(settings, "SELECT stage, error FROM failures") == [("fetch", "blocked")]


def test_invalid_urls_are_recorded(tmp_path: Path) -> None:
    settings = web_settings(tmp_path)
    bad = ["http://", "https://exa mple.com:99999/", "javascript:alert(1)", "ftp://x/y"]

    summary = run_url_ingest(bad, settings)

    assert summary.failed == 4 and summary.new == 0
    assert rows(settings, "SELECT input, stage, error FROM failures ORDER BY failure_id") == [
        (url, "fetch", "invalid_url") for url in bad
    ]


# --------------------------------------------------------------------------- raw archive


def test_raw_archive_is_compressed_and_content_addressed(site: FixtureSite, tmp_path: Path) -> None:
    body = article_html("Twice served").encode()
    site.set_page("/a.html", body)
    site.set_page("/b.html", body)  # the same bytes under another URL
    settings = web_settings(tmp_path)

    run_url_ingest([site.url("/a.html"), site.url("/b.html")], settings)

    (archived,) = rows(
        settings, "SELECT raw_hash, compression, body, size, compressed_size FROM raw_pages"
    )
    raw_hash, compression, blob, size, compressed_size = archived
    assert compression == "zlib" and zlib.decompress(blob) == body
    assert size == len(body) and compressed_size == len(blob) < size
    import hashlib

    assert raw_hash == hashlib.sha256(body).hexdigest()
    fetched = rows(
        settings,
        "SELECT url, purpose, status, raw_hash, headers, etag, content_type, attempts, fetched_at "
        "FROM fetches ORDER BY url",
    )
    assert [(r[0], r[1], r[2], r[3]) for r in fetched] == [
        (site.url("/a.html"), "page", 200, raw_hash),
        (site.url("/b.html"), "page", 200, raw_hash),
    ]
    for row in fetched:
        headers = json.loads(row[4]) if isinstance(row[4], str) else row[4]
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["etag"] == row[5] == site.page_etag("/a.html")
        assert row[6] == "text/html" and row[7] == 1 and row[8] is not None

    # Fetching the same bytes again adds a fetch, not a second copy.
    run_refresh(settings, everything=True)
    site.set_page("/a.html", body + b" ")  # new ETag, the body differs by one byte
    site.set_page("/a.html", body)  # ... and back: a 200 with known bytes
    run_refresh(settings, everything=True)
    assert scalar(settings, "SELECT count(*) FROM raw_pages") == 1
    assert scalar(settings, "SELECT count(*) FROM fetches") == 6


# --------------------------------------------------------------------------- reprocess


@pytest.fixture
def extractor_revision(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], str]]:
    """Set the extractor revision (the version string is cached: clear it both ways)."""

    def bump(revision: int) -> str:
        monkeypatch.setattr(clean, "EXTRACTOR_REVISION", revision)
        extractor_version.cache_clear()
        return extractor_version("url")

    yield bump
    monkeypatch.undo()
    extractor_version.cache_clear()


def test_reprocess_re_extracts_from_the_archive_without_fetching(
    site: FixtureSite, tmp_path: Path, extractor_revision: Callable[[int], str]
) -> None:
    pages = serve_articles(site, 3)
    serve_rss(site, "/rss.xml", pages)
    settings = web_settings(tmp_path)
    run_poll(feed_list(tmp_path, {"rss": site.url("/rss.xml")}), settings)
    old_version = extractor_version("url")
    requests_before = len(site.requests())
    assert run_reprocess(settings).total == 0  # nothing to do with the same extractor

    new_version = extractor_revision(99)
    assert new_version != old_version and new_version.startswith("html-99-")
    summary = run_reprocess(settings)

    assert (summary.new, summary.revised, summary.unchanged, summary.failed) == (0, 0, 3, 0)
    assert len(site.requests()) == requests_before  # no HTTP request at all
    assert scalar(settings, "SELECT count(*) FROM revisions") == 3  # same content: no revision
    assert rows(
        settings,
        "SELECT DISTINCT outcome, extractor_version FROM observations WHERE run_id = $r",
        {"r": summary.run_id},
    ) == [("unchanged", new_version)]
    assert run_reprocess(settings).total == 0  # done: every story is at the current version

    # A refresh after reprocessing skips extraction on 304 and keeps the new version.
    refreshed = run_refresh(settings, everything=True)
    assert refreshed.unchanged == 3
    assert rows(
        settings,
        "SELECT DISTINCT extractor_version FROM observations WHERE run_id = $r",
        {"r": refreshed.run_id},
    ) == [(new_version,)]


def test_reprocess_adds_a_revision_only_where_the_extraction_changes(
    site: FixtureSite,
    tmp_path: Path,
    extractor_revision: Callable[[int], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = serve_articles(site, 2)
    settings = web_settings(tmp_path)
    run_url_ingest([site.url(p) for p in pages], settings)
    requests_before = len(site.requests())

    # The "new extractor" reads titles differently, but only on story 1.
    original = pipeline.describe

    def describe(document: Any, cleaned: Any) -> Any:
        content = original(document, cleaned)
        if document.identity.endswith("/1.html"):
            from dataclasses import replace

            from newsledger.tasks.metadata import content_fingerprint

            title = content.title + " (better title)"
            return replace(
                content,
                title=title,
                content_hash=content_fingerprint(title, list(content.authors), content.text),
            )
        return content

    monkeypatch.setattr(pipeline, "describe", describe)
    new_version = extractor_revision(clean.EXTRACTOR_REVISION + 1)
    summary = run_reprocess(settings)

    assert (summary.revised, summary.unchanged, summary.failed) == (1, 1, 0)
    assert len(site.requests()) == requests_before
    latest = rows(
        settings,
        "SELECT identity, revision, title, extractor_version, changed_fields "
        "FROM latest_revisions ORDER BY identity",
    )
    assert latest[0][1:3] == (1, "Story news 0") and latest[0][3] != new_version
    assert latest[1][1:] == (2, "Story news 1 (better title)", new_version, ["title"])


# --------------------------------------------------------------------------- schedule policy

POLICY = Settings(
    refresh_min_minutes=15,
    refresh_max_minutes=7 * 24 * 60,
    refresh_age_factor=0.25,
    retry_base_minutes=15,
    max_failure_attempts=5,
)
NOW = datetime(2025, 9, 2, 12, 0, tzinfo=UTC)
ages = st.floats(min_value=0, max_value=400 * 24 * 60, allow_nan=False)
factors = st.floats(min_value=0.01, max_value=100, allow_nan=False)


@hypothesis_settings(max_examples=300, deadline=None)
@given(a=ages, b=ages, watch=factors)
def test_revisit_interval_grows_with_age_within_bounds(a: float, b: float, watch: float) -> None:
    young, old = sorted((a, b))
    first = revisit_interval(NOW, NOW - timedelta(minutes=young), POLICY, watch)
    second = revisit_interval(NOW, NOW - timedelta(minutes=old), POLICY, watch)
    assert first <= second
    for interval in (first, second):
        # the bounds apply before the watch factor (never below 1) divides the interval
        assert timedelta(minutes=POLICY.refresh_min_minutes) / max(watch, 1.0) <= interval
        assert interval <= timedelta(minutes=POLICY.refresh_max_minutes) / max(watch, 1.0)


@hypothesis_settings(max_examples=300, deadline=None)
@given(age=ages, low=factors, high=factors)
def test_watching_a_story_more_never_lengthens_its_interval(
    age: float, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    changed = NOW - timedelta(minutes=age)
    assert revisit_interval(NOW, changed, POLICY, high) <= revisit_interval(
        NOW, changed, POLICY, low
    )


def test_revisit_interval_examples() -> None:
    assert revisit_interval(NOW, NOW, POLICY) == timedelta(minutes=15)
    assert revisit_interval(NOW, NOW - timedelta(hours=8), POLICY) == timedelta(hours=2)
    assert revisit_interval(NOW, NOW - timedelta(days=365), POLICY) == timedelta(days=7)
    assert revisit_interval(NOW, NOW + timedelta(hours=1), POLICY) == timedelta(minutes=15)


def test_the_watch_factor_divides_the_bounded_interval() -> None:
    """Right after a change a story watched ×4 is due in 15 min / 4, not 15 min: the floor
    applies before the factor divides (README, "A story that changes is watched more closely")."""
    assert revisit_interval(NOW, NOW, POLICY, 4.0) == timedelta(minutes=15) / 4
    assert revisit_interval(NOW, NOW - timedelta(hours=8), POLICY, 2.0) == timedelta(hours=1)
    assert revisit_interval(NOW, NOW - timedelta(days=365), POLICY, 8.0) == timedelta(days=7) / 8
    assert revisit_interval(NOW, NOW, POLICY, 0.5) == timedelta(minutes=15)  # never slower


def test_watching_a_just_revised_story_brings_its_next_visit_forward(
    site: FixtureSite, tmp_path: Path
) -> None:
    site.set_page("/news/watched.html", article_html("Watched story"))
    settings = web_settings(tmp_path)
    url = site.url("/news/watched.html")
    run_url_ingest([url], settings)
    site.set_page("/news/watched.html", article_html("Watched story", "Updated."))
    assert run_url_ingest([url], settings).revised == 1
    ((article_id, fetched_at, due_at, factor),) = rows(
        settings,
        "SELECT article_id, last_fetched_at, next_check_at, watch_factor FROM tracked_urls",
    )
    assert factor == 1.0 and due_at - fetched_at == timedelta(minutes=15)
    result = watch_article(settings, article_id, 2)
    assert [change["watch_factor"] for change in result.urls] == [2.0]
    ((due_after, factor_after),) = rows(
        settings, "SELECT next_check_at, watch_factor FROM tracked_urls"
    )
    # revision 2 → ×2: 15 min / 2 after the watch, so well before the unwatched 15 min
    assert factor_after == 2.0
    assert due_after < fetched_at + timedelta(minutes=15)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    base=st.floats(min_value=0.1, max_value=600, allow_nan=False),
    attempts=st.integers(min_value=1, max_value=30),
)
def test_retry_delay_grows_and_gives_up(base: float, attempts: int) -> None:
    policy = POLICY.model_copy(
        update={"retry_base_minutes": base, "max_failure_attempts": attempts}
    )
    delays = [retry_delay(n, policy) for n in range(1, attempts)]
    assert all(d is not None and d > timedelta(0) for d in delays)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert retry_delay(attempts, policy) is None
    assert retry_delay(attempts + 1, policy) is None
    if delays:
        assert delays[0] == timedelta(minutes=min(base, policy.refresh_max_minutes))


def test_an_alias_with_different_content_does_not_flip_revisions_on_refresh(
    site: FixtureSite, tmp_path: Path
) -> None:
    canonical = site.url("/news/full.html")
    site.set_page("/news/full.html", article_html("Full story", canonical=canonical))
    # The AMP variant names the canonical page but its text differs (a shortened version).
    site.set_page(
        "/amp/full.html",
        article_html("Full story", "AMP", canonical=canonical, sentences=SENTENCES[:3]),
    )
    settings = web_settings(tmp_path)
    run_url_ingest([site.url("/amp/full.html")], settings)  # the alias first: tracks canonical
    tracked = dict(rows(settings, "SELECT url, alias_of FROM tracked_urls"))
    assert tracked == {site.url("/amp/full.html"): canonical, canonical: None}

    for _ in range(3):
        run_refresh(settings, everything=True)
    revisions = rows(settings, "SELECT revision, source FROM revisions ORDER BY revision")
    # One revision from the alias, one when the canonical page itself was first read; after
    # that only the canonical is revisited, so nothing alternates.
    assert [source for _, source in revisions] == [site.url("/amp/full.html"), canonical]
    assert site.count("/amp/full.html") == 1


def test_a_canonical_that_answers_404_does_not_take_the_story_over(
    site: FixtureSite, tmp_path: Path
) -> None:
    """A canonical URL is visited instead of the page naming it only while it answers: while
    it fails, the page that worked keeps being visited, its edits become revisions, and the
    outcomes (and events) name that page, not the dead canonical URL."""
    page = site.url("/amp/story.html")
    dead = site.url("/news/gone.html")  # not served yet: 404
    site.set_page("/amp/story.html", article_html("Living story", canonical=dead))
    settings = web_settings(tmp_path)

    first = run_url_ingest([page], settings)
    assert first.new == 1 and [o.url for o in first.outcomes] == [page]
    tracked = dict(rows(settings, "SELECT url, alias_of FROM tracked_urls"))
    assert tracked == {page: dead, dead: None}

    tried = run_refresh(settings)  # only what is due: the canonical URL, never asked yet
    assert (site.count("/news/gone.html"), site.count("/amp/story.html")) == (1, 1)
    assert tried.failed == 1

    site.set_page("/amp/story.html", article_html("Living story", "Updated.", canonical=dead))
    edited = run_refresh(settings, everything=True)
    assert site.count("/amp/story.html") == 2  # the page that worked is still visited
    assert edited.revised == 1 and [o.url for o in edited.outcomes] == [page]
    assert rows(settings, "SELECT revision, source FROM revisions ORDER BY revision") == [
        (1, page),
        (2, page),
    ]
    (article_id,) = rows(settings, "SELECT article_id FROM articles")[0]
    watched = watch_article(settings, article_id, 2)
    assert page in [change["url"] for change in watched.urls]  # the page is watched, too

    # Once the canonical URL answers, it is visited instead of the page.
    site.set_page("/news/gone.html", article_html("Living story", "Updated.", canonical=dead))
    run_refresh(settings, everything=True)
    before = site.count("/amp/story.html")
    run_refresh(settings, everything=True)
    run_refresh(settings, everything=True)
    assert site.count("/amp/story.html") == before
    assert site.count("/news/gone.html") == 5
    watched = watch_article(settings, article_id, 3)
    assert [change["url"] for change in watched.urls] == [dead]


def test_a_canonical_on_another_site_does_not_join_its_story(
    site: FixtureSite, tmp_path: Path
) -> None:
    foreign = "https://other-outlet.example/news/their-story"
    site.set_page("/news/mine.html", article_html("My story", canonical=foreign))
    settings = web_settings(tmp_path)
    run_url_ingest([site.url("/news/mine.html")], settings)
    identities = [row[0] for row in rows(settings, "SELECT identity FROM article_identities")]
    assert identities == [site.url("/news/mine.html")]
    assert scalar(settings, "SELECT count(*) FROM tracked_urls WHERE alias_of IS NOT NULL") == 0
