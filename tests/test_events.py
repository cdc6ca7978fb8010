"""Plain parts of orchestration, without Prefect: the events a stored batch gives rise to, the
run report, and ``watch_article`` on a real ledger fed by a real HTTP server."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from fixture_site import FixtureSite
from newsledger.tasks.crawl import run_url_ingest, watch_article
from newsledger.tasks.events import (
    ARTICLE_CREATED,
    ARTICLE_REVISED,
    FEED_POLLED,
    INGEST_FAILED,
    feed_events,
    outcome_events,
    report_line,
    report_table,
    submitted_event,
)
from newsledger.tasks.models import FailedInput, RunSummary, StoredOutcome
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader


def test_outcomes_become_created_revised_and_failed_events() -> None:
    outcomes = [
        StoredOutcome("new", "http://x/a", "aaaa", 1, "A", "http://x/a", 120, 0),
        StoredOutcome("revised", "http://x/b", "bbbb", 3, "B", "http://x/b", 4, 2),
        StoredOutcome("unchanged", "http://x/c", "cccc", 1, "C", "http://x/c"),
        StoredOutcome(
            "failed", "http://x/d", None, message="x/d: HTTP 500", stage="fetch", error="http_500"
        ),
    ]
    created, revised, failed = outcome_events("run1", outcomes, ledger="/data/l.duckdb")

    assert created.event == ARTICLE_CREATED
    assert created.resource == {
        "prefect.resource.id": "newsledger.article.aaaa",
        "prefect.resource.name": "A",
    }
    assert created.payload == {
        "run_id": "run1",
        "article_id": "aaaa",
        "input": "http://x/a",
        "url": "http://x/a",
        "title": "A",
        "revision": 1,
        "words_added": 120,
        "words_removed": 0,
        "ledger": "/data/l.duckdb",
        # what a notification says (tests/test_notify.py): nothing more is known of this one
        "outlet": None,
        "previous_title": None,
        "first_change": None,
        "first_change_kind": None,
        "observed_at": None,
        "story_url": None,
        "diff_url": None,
        "summary": "New story: A: 120 words. http://x/a",
    }
    assert revised.event == ARTICLE_REVISED
    assert revised.resource["prefect.resource.id"] == "newsledger.article.bbbb"
    assert (revised.payload["revision"], revised.payload["words_added"]) == (3, 4)
    assert revised.payload["words_removed"] == 2
    assert failed.event == INGEST_FAILED
    assert failed.payload == {
        "run_id": "run1",
        "input": "http://x/d",
        "stage": "fetch",
        "error": "http_500",
        "reason": "x/d: HTTP 500",
    }
    assert failed.resource["prefect.resource.id"].startswith("newsledger.input.")


def test_feed_events_and_submitted_event() -> None:
    reports = [
        {"feed": "Fixture", "url": "http://x/feed.xml", "status": "ok", "entries": 3},
        {"feed": "Broken", "url": "http://x/bad.xml", "status": "failed", "reason": "HTTP 500"},
    ]
    failure = FailedInput("http://x/bad.xml", "fetch", "http_500", "feed 'Broken': HTTP 500")
    ok, broken, failed = feed_events("run2", reports, [failure])
    assert (ok.event, ok.payload["status"], ok.payload["entries"]) == (FEED_POLLED, "ok", 3)
    assert ok.resource["prefect.resource.name"] == "Fixture"
    assert (broken.payload["status"], broken.payload["reason"]) == ("failed", "HTTP 500")
    assert ok.resource["prefect.resource.id"] != broken.resource["prefect.resource.id"]
    assert (failed.event, failed.payload["stage"]) == (INGEST_FAILED, "fetch")

    submitted = submitted_event("http://x/story.html")
    assert submitted.event == "newsledger.url.submitted"
    assert submitted.payload == {"url": "http://x/story.html"}
    assert submitted.resource["prefect.resource.id"].startswith("newsledger.url.")


def test_report_counts_and_failed_inputs() -> None:
    summary = RunSummary("run3", "ingest_urls", new=2, revised=1, unchanged=4, skipped=1)
    summary.add(
        [StoredOutcome("failed", "http://x/d", None, message="gone", stage="fetch", error="e")]
    )
    assert report_line("ingest_urls", summary) == (
        "ingest_urls: 2 new, 1 revised, 4 unchanged, 1 failed, 1 skipped (ledger run run3)"
    )
    rows = report_table(summary)
    assert [(r["outcome"], r["count"]) for r in rows[:5]] == [
        ("new", 2),
        ("revised", 1),
        ("unchanged", 4),
        ("failed", 1),
        ("skipped", 1),
    ]
    assert rows[5] == {
        "outcome": "failed input",
        "count": 1,
        "input": "http://x/d",
        "stage": "fetch",
        "reason": "gone",
    }


def test_events_module_does_not_import_prefect() -> None:
    import subprocess

    code = "import sys, newsledger.tasks.events; print('prefect' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_watch_article_raises_the_factor_once_per_revision(
    site: FixtureSite, tmp_path: Path
) -> None:
    settings = Settings(
        db=tmp_path / "ledger.duckdb",
        allowed_hosts=["127.0.0.1"],
        per_host_delay_seconds=0,
        lock_timeout_seconds=30,
    )
    page = (
        "<html lang='en'><head><title>Watched</title></head><body><article>"
        + "<p>The council met on Tuesday evening and voted on the harbour wall again.</p>" * 5
        + "</article></body></html>"
    )
    site.set_page("/watched.html", page)
    url = site.url("/watched.html")
    summary = run_url_ingest([url], settings)
    assert summary.new == 1
    article_id = summary.outcomes[0].article_id
    assert article_id is not None

    def state() -> tuple[float, datetime]:
        with open_reader(settings, locked_down=False) as conn:
            row = conn.execute(
                "SELECT watch_factor, next_check_at FROM tracked_urls WHERE url = $u", {"u": url}
            ).fetchone()
        assert row is not None
        return row[0], row[1]

    factor, due = state()
    assert factor == 1.0

    first = watch_article(settings, article_id, revision=2)
    assert first.revision == 2
    assert [u["url"] for u in first.urls] == [url]
    factor2, due2 = state()
    assert factor2 == settings.watch_factor_step
    assert due2 <= due

    # a retried or repeated trigger changes nothing more
    watch_article(settings, article_id, revision=2)
    assert state()[0] == factor2

    # later revisions raise it further, up to the cap; the revision defaults to the latest
    watch_article(settings, article_id, revision=10)
    assert state()[0] == settings.watch_factor_max
    assert watch_article(settings, article_id).revision == 1

    # a story without tracked URLs (a local file) is left alone, and so is a missing ledger
    assert watch_article(settings, "0123456789abcdef").urls == []
    elsewhere = settings.model_copy(update={"db": tmp_path / "elsewhere.duckdb"})
    assert watch_article(elsewhere, article_id, revision=2).urls == []
    assert not elsewhere.db.exists()
