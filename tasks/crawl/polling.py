"""Polling feeds: fetch the feeds that are due (conditional GET), parse them, record feed
state, entries and skips with the pages they discovered, and hand on the pages to fetch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
from newsledger.tasks.crawl.models import FetchRecord, PageTarget, fetch_record
from newsledger.tasks.crawl.policy import retry_delay
from newsledger.tasks.crawl.records import insert_fetches, save_robots
from newsledger.tasks.crawl.state import (
    feed_state,
    known_robots,
    open_crawl_reader,
    recent_requests,
    tracked_state,
)
from newsledger.tasks.errors import FeedError, FetchError
from newsledger.tasks.feeds import FeedEntry, FeedSpec, entry_metadata_hash, parse_feed, skip_code
from newsledger.tasks.fetch import FetchRequest, fetch_all
from newsledger.tasks.models import FailedInput, StoredOutcome
from newsledger.tasks.pipeline import store_batch
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import sql
from newsledger.tasks.values import json_default, utc_now


@dataclass
class FeedPoll:
    """The result of polling feeds: new pages to fetch, and feed failures."""

    new_targets: list[PageTarget]
    failures: list[FailedInput]
    feeds_polled: int = 0
    feeds_not_modified: int = 0
    entries_seen: int = 0
    feed_reports: list[dict[str, Any]] = field(default_factory=list)
    skips: list[dict[str, str]] = field(default_factory=list)
    """Entries read but not fetched: {feed_url, entry, reason (a code), message}."""

    def skip(self, feed_url: str, entry: str, reason: str, message: str) -> None:
        self.skips.append(
            {"feed_url": feed_url, "entry": entry, "reason": reason, "message": message}
        )


def feed_entry_row(feed_url: str, entry: FeedEntry) -> dict[str, Any]:
    """What a feed says about the page an entry links to, as a ``feed_entries`` row (the
    ledger adds it only when it differs from the latest version for that feed and URL)."""
    return {
        "feed_url": feed_url,
        "url": entry.link,
        "entry_hash": entry_metadata_hash(entry),
        "guid": entry.guid,
        "title": entry.title,
        "published_at": entry.published,
        "updated_at": entry.updated,
        "authors": list(entry.authors),
        "summary": entry.summary,
    }


def feeds_due(
    specs: Sequence[FeedSpec],
    next_poll: dict[str, datetime | None],
    now: datetime,
    *,
    everything: bool = False,
) -> list[FeedSpec]:
    """The enabled feeds whose next poll time has come (all enabled ones with ``everything``)."""
    enabled = [s for s in specs if s.enabled]
    if everything:
        return enabled
    return [s for s in enabled if (due := next_poll.get(s.url)) is None or due <= now]


def poll_feeds(
    settings: Settings, run_id: str, specs: Sequence[FeedSpec], everything: bool = False
) -> FeedPoll:
    """Fetch the feeds that are due (conditional GET), parse them, record feed state and
    failures, and return the entries whose pages we have never tracked."""
    now = utc_now()
    with open_crawl_reader(settings) as conn:
        state = feed_state(conn, [s.url for s in specs])
        robots = known_robots(conn, settings, [s.url for s in specs])
        recent = recent_requests(conn, settings)
    # Pages an earlier poll of any listed feed discovered but did not fetch (it was stopped,
    # or met its page cap) are fetched now, even while their feed is not due again.
    listed = [s.url for s in specs if s.enabled]
    specs = feeds_due(
        specs, {url: row.next_poll_at for url, row in state.items()}, now, everything=everything
    )
    requests = [
        FetchRequest(
            s.url,
            state[s.url].etag if s.url in state else None,
            state[s.url].last_modified if s.url in state else None,
            "feed",
        )
        for s in specs
    ]
    results = fetch_all(settings, requests, robots, recent)
    poll = FeedPoll([], [])
    feed_rows: list[dict[str, Any]] = []
    fetches: list[FetchRecord] = []
    candidates: dict[str, PageTarget] = {}
    entry_rows: list[dict[str, Any]] = []
    for spec, result in zip(specs, results, strict=True):
        old = state.get(spec.url)
        interval = timedelta(minutes=spec.interval_minutes or settings.feed_interval_minutes)
        row: dict[str, Any] = {
            "feed_url": spec.url,
            "name": spec.name,
            "etag": old.etag if old else None,
            "last_modified": old.last_modified if old else None,
            "last_polled_at": now,
            "next_poll_at": now + interval,
            "consecutive_failures": 0,
            "last_error": None,
            "entries_seen": old.entries_seen if old else 0,
            "last_status": None,
        }
        report: dict[str, Any] = {"feed": spec.name, "url": spec.url}
        poll.feeds_polled += 1
        fetches.append(fetch_record(result, spec.url, "feed"))
        error: Exception | None = None
        if isinstance(result, FetchError):
            error = result
            row["last_status"] = result.status
        else:
            row.update(
                last_status=result.status,
                etag=result.etag or row["etag"],
                last_modified=result.last_modified or row["last_modified"],
            )
            if result.not_modified:
                poll.feeds_not_modified += 1
                report["status"] = "not modified"
            else:
                try:
                    parsed = parse_feed(result.body, url=result.final_url, headers=result.headers)
                except FeedError as exc:
                    error = exc
                else:
                    row["entries_seen"] += len(parsed.entries)
                    poll.entries_seen += len(parsed.entries)
                    report.update(status="ok", entries=len(parsed.entries), bozo=parsed.bozo)
                    entries_total = len(parsed.entries) + len(parsed.skipped)
                    row["entries_seen"] += entries_total - len(parsed.entries)
                    poll.entries_seen += entries_total - len(parsed.entries)
                    report["entries"] = entries_total
                    for label, reason in parsed.skipped:
                        poll.skip(spec.url, label, skip_code(reason), reason)
                    for entry in parsed.entries:
                        if entry.link is not None:
                            entry_rows.append(feed_entry_row(spec.url, entry))
                        if entry.link is None:  # a guid-only entry: nothing we can fetch
                            code = "unsupported_scheme" if entry.raw_link else "no_link"
                            poll.skip(
                                spec.url,
                                entry.guid or entry.identity,
                                code,
                                f"link {entry.raw_link!r} is not an http(s) URL"
                                if entry.raw_link
                                else "the entry has no link",
                            )
                        elif entry.link in candidates:
                            poll.skip(
                                spec.url,
                                entry.link,
                                "duplicate_link",
                                f"also listed by {candidates[entry.link].feed_url}",
                            )
                        else:
                            candidates[entry.link] = PageTarget(entry.link, feed_url=spec.url)
        if error is not None:
            failures = (old.consecutive_failures if old else 0) + 1
            delay = retry_delay(failures, settings) or timedelta(
                minutes=settings.refresh_max_minutes
            )
            row.update(
                consecutive_failures=failures,
                last_error=str(error),
                # validators of an unusable answer would turn the next poll into a quiet 304
                etag=old.etag if old else None,
                last_modified=old.last_modified if old else None,
                next_poll_at=now + min(max(delay, interval), delay + interval),
            )
            code = getattr(error, "code", "feed")
            poll.failures.append(
                FailedInput(
                    spec.url,
                    getattr(error, "stage", "feed"),
                    code,
                    f"feed {spec.name!r}: {error}",
                    identity=spec.url,
                )
            )
            report.update(status="failed", reason=str(error))
        feed_rows.append(row)
        poll.feed_reports.append(report)

    # Entries are recorded as tracked URLs (due now, never fetched) in the same transaction as
    # the feed validators: a poll that stops early, or meets its page cap, loses none of them
    # even though the feed answers 304 next time; the next poll (or refresh) fetches them.
    def record_feeds(conn: duckdb.DuckDBPyConnection, _outcomes: list[StoredOutcome]) -> None:
        tracked = tracked_state(conn, candidates) if candidates else {}
        pending = conn.execute(sql("pending_urls"), {"feeds": listed}).fetchall()
        fetched = {
            url for url, row in tracked.items() if row.last_fetched_at is not None or row.gave_up
        }
        discovered = [t for url, t in candidates.items() if url not in fetched]
        targets = {url: PageTarget(url, feed_url=feed_url) for url, feed_url in pending}
        targets.update((t.url, t) for t in discovered if t.url not in targets)
        poll.new_targets = list(targets.values())[: settings.max_pages_per_poll]
        known = set(tracked)
        new_rows = [
            {"url": t.url, "feed_url": t.feed_url} for t in discovered if t.url not in known
        ]
        insert_fetches(conn, run_id, fetches)
        save_robots(conn, robots.fetched.values())
        conn.execute(sql("upsert_feeds"), {"rows": json.dumps(feed_rows, default=json_default)})
        if new_rows:
            conn.execute(sql("insert_discovered"), {"rows": json.dumps(new_rows), "now": now})
        if entry_rows:
            conn.execute(
                sql("insert_feed_entries"),
                {
                    "rows": json.dumps(entry_rows, default=json_default),
                    "run_id": run_id,
                    "now": now,
                },
            )
        if poll.skips:
            conn.execute(
                sql("insert_feed_skips"),
                {"rows": json.dumps(poll.skips), "run_id": run_id, "now": now},
            )

    store_batch(settings, run_id, poll.failures, before_commit=record_feeds)
    return poll
