"""Web ingestion as plain functions: poll feeds, fetch pages, revisit known stories, retry
failures, re-extract archived pages. Every URL ends stored, unchanged, or a recorded failure.

Each run (``run_poll``, ``run_url_ingest``, ``run_refresh``, ``run_retry``, ``run_reprocess``)
is one composition over :class:`WebSteps`; the Prefect flows pass task-wrapped steps. Crawl
state (validators for conditional GETs, the revisit schedule, failure backoff), the fetch log
and the raw archive are written in the same transaction as the revisions they explain.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
from newsledger.tasks.archive import WarcLocation, warc_columns
from newsledger.tasks.clean import extractor_version
from newsledger.tasks.errors import FeedError, FetchError
from newsledger.tasks.extraction_pool import active_pool
from newsledger.tasks.feeds import (
    FeedEntry,
    FeedSpec,
    entry_metadata_hash,
    parse_feed,
    read_feed_list,
    skip_code,
)
from newsledger.tasks.fetch import (
    FetchedPage,
    FetchRequest,
    RobotsCache,
    RobotsRecord,
    fetch_all,
    host_of,
    origin_of,
)
from newsledger.tasks.models import (
    FailedInput,
    KnownUnchanged,
    LastObservation,
    PreparedItem,
    RunSummary,
    SourceDocument,
    StoredOutcome,
)
from newsledger.tasks.overlap import FetchedPart, Handoff, run_stages, stream_fetches
from newsledger.tasks.pipeline import (
    LOCAL_RUN,
    RunContext,
    chunks,
    prepare_documents,
    refresh_search,
    run_recorded,
    store_batch,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import (
    _json_default,
    begin_run,
    canonical_alias,
    finish_run,
    open_writer,
    read_last_observations_by_input,
    sql,
)
from newsledger.tasks.urls import normalize_url

# --- schedule policy (plain, pure) --------------------------------------------------------------


def revisit_interval(
    now: datetime, last_change: datetime, settings: Settings, watch_factor: float = 1.0
) -> timedelta:
    """How long until a story is visited again: a fixed share of the time since it last
    changed (or appeared), kept between ``refresh_min_minutes`` and ``refresh_max_minutes``, so
    young or just-edited stories are watched closely and old ones rarely. That interval is then
    divided by ``watch_factor`` (at least 1: a story that keeps changing): a story watched ×4 is
    visited four times as often as another of its age, also right after a change (15 min / 4),
    which a bound applied after dividing would cancel."""
    age_minutes = max(0.0, (now - last_change).total_seconds() / 60)
    minutes = settings.refresh_age_factor * age_minutes
    minutes = min(max(minutes, settings.refresh_min_minutes), settings.refresh_max_minutes)
    return timedelta(minutes=minutes / max(watch_factor, 1.0))


def retry_delay(consecutive_failures: int, settings: Settings) -> timedelta | None:
    """Backoff after the n-th failure in a row; ``None`` when it is time to give up."""
    if consecutive_failures >= settings.max_failure_attempts:
        return None
    minutes = settings.retry_base_minutes * 2 ** max(0, consecutive_failures - 1)
    return timedelta(minutes=min(minutes, settings.refresh_max_minutes))


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageTarget:
    """A page to fetch: its normalised URL (the story's identity) and validators."""

    url: str
    feed_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchRecord:
    """One fetch for the log (and its compressed body for the archive)."""

    url: str
    purpose: str
    fetched_at: datetime
    final_url: str | None = None
    status: int | None = None
    raw_hash: str | None = None
    headers: dict[str, str] | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    attempts: int | None = None
    error: str | None = None
    compressed: bytes | None = None
    size: int | None = None
    warc: tuple[WarcLocation, ...] = ()  # its exchanges in the WARC archive, the answer last


@dataclass
class PageBatch:
    """Fetched and prepared pages of one batch, ready to be stored."""

    targets: list[PageTarget]
    prepared: list[PreparedItem]
    fetches: list[FetchRecord] = field(default_factory=list)
    robots: list[RobotsRecord] = field(default_factory=list)  # robots.txt fetched meanwhile


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


def _now() -> datetime:
    return datetime.now(UTC)


def _record(page: FetchedPage | FetchError, url: str, purpose: str) -> FetchRecord:
    if isinstance(page, FetchError):
        return FetchRecord(
            url, purpose, _now(), status=page.status, error=page.code, warc=page.warc
        )
    raw_hash = hashlib.sha256(page.body).hexdigest() if page.body else None
    return FetchRecord(
        url,
        purpose,
        page.fetched_at,
        final_url=page.final_url,
        status=page.status,
        raw_hash=raw_hash,
        headers=page.headers,
        etag=page.etag,
        last_modified=page.last_modified,
        content_type=page.content_type,
        attempts=page.attempts,
        compressed=zlib.compress(page.body, 6) if page.body else None,
        size=len(page.body) if page.body else None,
        warc=page.warc,
    )


# --- reading crawl state ----------------------------------------------------------------------


def targets_for_urls(urls: Sequence[str]) -> tuple[list[PageTarget], list[FailedInput]]:
    """Normalise user-given URLs; unusable ones become failures with a reason."""
    targets: list[PageTarget] = []
    failures: list[FailedInput] = []
    seen: set[str] = set()
    for url in urls:
        normal = normalize_url(url)
        if normal is None:
            failures.append(
                FailedInput(
                    url, "fetch", "invalid_url", f"{url}: not an http(s) URL newsledger can fetch"
                )
            )
        elif normal not in seen:
            seen.add(normal)
            targets.append(PageTarget(normal))
    return targets, failures


def with_validators(settings: Settings, targets: Sequence[PageTarget]) -> list[PageTarget]:
    """Add the ETag / Last-Modified of the last fetch of each known URL (conditional GET)."""
    if not targets:
        return []
    with open_writer(settings) as conn:
        rows = conn.execute(sql("tracked_state"), {"urls": [t.url for t in targets]}).fetchall()
    state = {row[0]: row for row in rows}
    return [
        replace(
            t,
            etag=state[t.url][4],
            last_modified=state[t.url][5],
            feed_url=t.feed_url or state[t.url][2],
        )
        if t.url in state
        else t
        for t in targets
    ]


def due_targets(
    settings: Settings, *, everything: bool = False, limit: int = 100_000
) -> list[PageTarget]:
    with open_writer(settings) as conn:
        rows = conn.execute(
            sql("due_urls"),
            {
                "now": _now(),
                "all": everything,
                "limit": limit,
                "policy": policy_fingerprint(settings),
            },
        ).fetchall()
    return [
        PageTarget(url, feed_url, etag, last_modified)
        for url, feed_url, etag, last_modified in rows
    ]


def failing_targets(settings: Settings) -> list[PageTarget]:
    with open_writer(settings) as conn:
        rows = conn.execute(sql("failing_urls")).fetchall()
    return [PageTarget(*row) for row in rows]


# --- fetch + prepare pages ----------------------------------------------------------------------


def known_robots(
    conn: duckdb.DuckDBPyConnection, settings: Settings, urls: Iterable[str]
) -> RobotsCache:
    """The robots.txt rules stored for the origins of ``urls`` that are still fresh."""
    origins = sorted({o for url in urls if (o := origin_of(url))})
    if not origins or not settings.respect_robots or settings.robots_cache_hours <= 0:
        return RobotsCache()
    fresh_after = _now() - timedelta(hours=settings.robots_cache_hours)
    rows = conn.execute(
        sql("robots_known"), {"origins": origins, "fresh_after": fresh_after}
    ).fetchall()
    return RobotsCache(RobotsRecord(*row) for row in rows)


def recent_requests(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, datetime]:
    """The hosts asked within the longest politeness delay (``per_host_delay_seconds``, or the
    Crawl-delay cap), with the time of their last recorded fetch: a Fetcher waits its delay
    after it, so a feed and its first page are never closer than the promised 1 s."""
    window = settings.per_host_delay_seconds
    if settings.respect_robots:
        window = max(window, settings.max_crawl_delay_seconds)
    if window <= 0:
        return {}
    since = _now() - timedelta(seconds=window)
    latest: dict[str, datetime] = {}
    for url, fetched_at in conn.execute(sql("recent_fetches"), {"since": since}).fetchall():
        host = host_of(url)
        if host is not None and (host not in latest or fetched_at > latest[host]):
            latest[host] = fetched_at
    return latest


def save_robots(conn: duckdb.DuckDBPyConnection, records: Iterable[RobotsRecord]) -> None:
    rows = [
        {"origin": r.origin, "status": r.status, "body": r.body, "fetched_at": r.fetched_at}
        for r in records
    ]
    if rows:
        conn.execute(sql("upsert_robots"), {"rows": json.dumps(rows, default=_json_default)})


@dataclass
class FetchedBatch:
    """Fetch results of one batch, not yet extracted, with what the ledger knew of its URLs."""

    targets: list[PageTarget]
    results: list[FetchedPage | FetchError]
    known: dict[str, LastObservation] = field(default_factory=dict)
    """The last observation of each URL (a page's input is its URL), read before fetching."""
    robots: list[RobotsRecord] = field(default_factory=list)  # robots.txt fetched meanwhile


@dataclass(frozen=True)
class CrawlStart:
    """What a fetch stage reads from the ledger once before it starts."""

    known: dict[str, LastObservation]
    robots: RobotsCache
    recent: dict[str, datetime]


def read_crawl_start(settings: Settings, targets: Sequence[PageTarget]) -> CrawlStart:
    """One short read: the last observations of the URLs, fresh robots.txt rules, the hosts
    asked a moment ago (politeness)."""
    urls = [t.url for t in targets]
    with open_writer(settings) as conn:
        return CrawlStart(
            read_last_observations_by_input(conn, urls),
            known_robots(conn, settings, urls),
            recent_requests(conn, settings),
        )


def _requests(targets: Sequence[PageTarget]) -> list[FetchRequest]:
    return [FetchRequest(t.url, t.etag, t.last_modified, "html") for t in targets]


def fetch_pages(settings: Settings, targets: Sequence[PageTarget]) -> PageBatch:
    """Fetch a batch concurrently (conditional where we have validators) and extract what
    changed: the serial path (``pipeline_overlap`` false), one batch after the other."""
    start = read_crawl_start(settings, targets)
    results = fetch_all(settings, _requests(targets), start.robots, start.recent)
    fetched = FetchedBatch(list(targets), results, start.known, list(start.robots.fetched.values()))
    return prepare_pages(settings, fetched)


def fetch_stream(
    settings: Settings, targets: Sequence[PageTarget], handoff: Handoff[FetchedBatch]
) -> None:
    """The fetch stage of the overlapped pipeline: fetch every target with one Fetcher and
    hand each batch on as it closes (``batch_size`` pages, or ``batch_max_age_seconds`` after
    its first one), while the batches before it are extracted and written."""
    start = read_crawl_start(settings, targets)

    def on_batch(part: FetchedPart) -> None:
        chosen = [targets[position] for position in part.positions]
        known = {t.url: start.known[t.url] for t in chosen if t.url in start.known}
        handoff.put(FetchedBatch(chosen, part.results, known, part.robots))

    stream_fetches(
        settings,
        _requests(targets),
        on_batch,
        stopped=handoff.stopped,
        ready=handoff.idle,
        robots=start.robots,
        recent_requests=start.recent,
    )


def prepare_pages(settings: Settings, fetched: FetchedBatch) -> PageBatch:
    """Extract the pages of a fetched batch that changed. A 304 or an unchanged body costs no
    parsing or extraction; a failed fetch is a recorded failure."""
    prepared: list[PreparedItem] = []
    fetches: list[FetchRecord] = []
    to_extract: list[tuple[int, SourceDocument]] = []
    for target, result in zip(fetched.targets, fetched.results, strict=True):
        record = _record(result, target.url, "page")
        fetches.append(record)
        if isinstance(result, FetchError):
            prepared.append(
                FailedInput(target.url, result.stage, result.code, str(result), identity=target.url)
            )
            continue
        if result.not_modified:
            last = fetched.known.get(target.url)
            if last is None or not last.content_hash or not last.raw_hash:
                prepared.append(
                    FailedInput(
                        target.url,
                        "fetch",
                        "not_modified_unknown",
                        f"{target.url}: the server answered 304 but no stored copy exists",
                        identity=target.url,
                    )
                )
                continue
            document = SourceDocument(
                target.url,
                target.url,
                "url",
                b"",
                last.raw_hash,
                result.fetched_at,
                result.final_url,
            )
            prepared.append(
                KnownUnchanged(
                    document,
                    last.content_hash,
                    last.extractor_version or extractor_version("url", settings.extraction_mode),
                )
            )
            continue
        document = SourceDocument(
            target.url,
            target.url,
            "url",
            result.body,
            record.raw_hash or "",
            result.fetched_at,
            result.final_url,
            charset=result.charset,
        )
        to_extract.append((len(prepared), document))
        prepared.append(FailedInput(target.url, "clean", "pending", ""))  # placeholder
    extracted = prepare_documents(
        [d for _, d in to_extract], fetched.known, settings.extraction_mode
    )
    for (position, _document), item in zip(to_extract, extracted, strict=True):
        prepared[position] = item
    return PageBatch(list(fetched.targets), prepared, fetches, list(fetched.robots))


def load_archived(settings: Settings, document: SourceDocument) -> SourceDocument:
    """The document with its body read back from the raw archive."""
    with open_writer(settings) as conn:
        return replace(document, raw=archived_body(conn, document.raw_hash))


def archived_body(conn: duckdb.DuckDBPyConnection, raw_hash: str) -> bytes:
    row = conn.execute(sql("raw_page"), {"raw_hash": raw_hash}).fetchone()
    if row is None:
        raise FetchError(f"raw page {raw_hash} is not in the archive", code="not_archived")
    return zlib.decompress(row[1])


# --- store pages with their crawl state -----------------------------------------------------


def _insert_fetches(
    conn: duckdb.DuckDBPyConnection, run_id: str, fetches: Sequence[FetchRecord]
) -> None:
    bodies = {f.raw_hash: f for f in fetches if f.raw_hash and f.compressed is not None}
    if bodies:
        conn.execute(
            sql("insert_raw_pages"),
            {
                "hashes": list(bodies),
                "bodies": [f.compressed for f in bodies.values()],
                "sizes": [f.size for f in bodies.values()],
                "compressed_sizes": [len(f.compressed or b"") for f in bodies.values()],
                "now": _now(),
            },
        )
    if fetches:
        rows = [
            {
                "run_id": run_id,
                "url": f.url,
                "final_url": f.final_url,
                "purpose": f.purpose,
                "fetched_at": f.fetched_at,
                "status": f.status,
                "raw_hash": f.raw_hash,
                "headers": f.headers,
                "etag": f.etag,
                "last_modified": f.last_modified,
                "content_type": f.content_type,
                "attempts": f.attempts,
                "error": f.error,
                **warc_columns(f.warc),
            }
            for f in fetches
        ]
        conn.execute(sql("insert_fetches"), {"rows": json.dumps(rows, default=_json_default)})


def _update_tracked(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    batch: PageBatch,
    outcomes: Sequence[StoredOutcome],
) -> None:
    now = _now()
    by_input = {o.input: o for o in outcomes}
    fetch_of = {f.url: f for f in batch.fetches}
    # A page naming another canonical URL (same site) is an alias: the canonical URL is
    # tracked and revisited instead, so two variants of a story never take turns as revisions.
    # Only while the canonical URL answers: while it fails (a 404, a refusal), due_urls.sql
    # and watched_urls.sql visit the page that worked instead; one never asked yet is tried
    # first, at the next visit.
    canonical_of = {
        item.document.identity: canonical
        for item in batch.prepared
        if not isinstance(item, FailedInput) and (canonical := canonical_alias(item))
    }
    urls = [t.url for t in batch.targets] + list(canonical_of.values())
    state = {row[0]: row for row in conn.execute(sql("tracked_state"), {"urls": urls}).fetchall()}
    batch_urls = {t.url for t in batch.targets}
    refused = _refusal_fingerprints(conn, settings, _policy_refusals(batch))
    rows: list[dict[str, Any]] = []
    for target in batch.targets:
        old = state.get(target.url)
        outcome = by_input.get(target.url)
        fetch = fetch_of.get(target.url)
        discovered = old[3] if old else now
        watch = old[13] if old else 1.0
        last_changed = old[8] if old else None
        failures = old[10] if old else 0
        row: dict[str, Any] = {
            "url": target.url,
            "article_id": (old[1] if old else None),
            "feed_url": target.feed_url or (old[2] if old else None),
            "discovered_at": discovered,
            "etag": old[4] if old else None,
            "last_modified": old[5] if old else None,
            "last_status": fetch.status if fetch else None,
            "last_fetched_at": now,
            "last_changed_at": last_changed,
            "watch_factor": watch,
            "consecutive_failures": 0,
            "last_error": None,
            "gave_up": False,
            "alias_of": old[14] if old else None,
            "refused_policy": None,
        }
        if target.url in refused and outcome is not None:
            # refused by policy: not a failure to back off from, but a state that lasts until
            # the policy changes (due_urls.sql and failing_urls.sql leave it alone until then)
            row.update(
                last_error=outcome.message,
                refused_policy=refused[target.url],
                next_check_at=now,
            )
        elif outcome is None or outcome.outcome == "failed":
            failures += 1
            delay = retry_delay(failures, settings)
            row.update(
                consecutive_failures=failures,
                last_error=outcome.message if outcome else "not stored",
                gave_up=delay is None,
                next_check_at=now + (delay or timedelta(0)),
            )
        else:
            if outcome.outcome in ("new", "revised"):
                last_changed = now
            row.update(
                article_id=outcome.article_id,
                last_changed_at=last_changed,
                next_check_at=now
                + revisit_interval(now, last_changed or discovered, settings, watch),
            )
            if fetch is not None and fetch.status == 200:
                row.update(etag=fetch.etag, last_modified=fetch.last_modified)
            canonical = canonical_of.get(target.url)
            if canonical:
                row["alias_of"] = canonical
                if canonical not in state and canonical not in batch_urls:
                    state[canonical] = ()  # track it once
                    rows.append(
                        {
                            "url": canonical,
                            "article_id": outcome.article_id,
                            "feed_url": row["feed_url"],
                            "discovered_at": now,
                            "etag": None,
                            "last_modified": None,
                            "last_status": None,
                            "last_fetched_at": None,
                            "last_changed_at": None,
                            "next_check_at": now,
                            "watch_factor": 1.0,
                            "consecutive_failures": 0,
                            "last_error": None,
                            "gave_up": False,
                            "alias_of": None,
                            "refused_policy": None,
                        }
                    )
        rows.append(row)
    if rows:
        conn.execute(sql("upsert_tracked"), {"rows": json.dumps(rows, default=_json_default)})


POLICY_ERRORS = frozenset({"blocked", "robots"})
"""Fetch error codes that are refusals by policy (SSRF guard, scheme, robots.txt), not
transient failures: recorded once, not retried until the policy changes."""


def policy_fingerprint(settings: Settings) -> str:
    """A short hash of the settings that decide what the fetcher refuses."""
    policy = [sorted(settings.allowed_hosts), settings.respect_robots, settings.full_user_agent]
    return hashlib.sha256(json.dumps(policy).encode()).hexdigest()[:16]


def refusal_fingerprint(settings: Settings, error: str, robots_body: str | None) -> str:
    """The policy that refused a URL; due_urls.sql computes the same string for the current
    policy (a robots.txt refusal adds the md5 of the origin's stored rules, ``-`` for none)."""
    policy = policy_fingerprint(settings)
    if error != "robots":
        return policy
    rules = hashlib.md5(robots_body.encode()).hexdigest() if robots_body is not None else "-"
    return f"{policy}:{rules}"


def _robots_bodies(conn: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, str | None]:
    origins = sorted({o for url in urls if (o := origin_of(url))})
    if not origins:
        return {}
    return dict(conn.execute(sql("robots_bodies"), {"origins": origins}).fetchall())


def _refusal_fingerprints(
    conn: duckdb.DuckDBPyConnection, settings: Settings, refusals: Sequence[FailedInput]
) -> dict[str, str]:
    bodies = _robots_bodies(conn, [f.input for f in refusals])
    return {
        f.input: refusal_fingerprint(settings, f.error, bodies.get(origin_of(f.input) or ""))
        for f in refusals
    }


def _policy_refusals(batch: PageBatch) -> list[FailedInput]:
    return [
        item
        for item in batch.prepared
        if isinstance(item, FailedInput) and item.stage == "fetch" and item.error in POLICY_ERRORS
    ]


def _repeated_refusals(settings: Settings, batch: PageBatch) -> set[str]:
    """URLs of the batch refused again by the very policy that refused them last time."""
    refusals = _policy_refusals(batch)
    if not refusals:
        return set()
    with open_writer(settings) as conn:
        state = conn.execute(sql("tracked_state"), {"urls": [f.input for f in refusals]})
        before = {row[0]: row[15] for row in state.fetchall()}
        now = _refusal_fingerprints(conn, settings, refusals)
    return {url for url, fingerprint in now.items() if before.get(url) == fingerprint}


def store_pages(settings: Settings, run_id: str, batch: PageBatch) -> list[StoredOutcome]:
    """Store a page batch, its fetch log, raw bodies and crawl state in one transaction.

    A URL refused again by an unchanged policy is skipped: no second failure is recorded."""
    repeated = _repeated_refusals(settings, batch)
    skipped = [
        StoredOutcome(
            "skipped", item.input, None, message=item.message, stage=item.stage, error=item.error
        )
        for item in batch.prepared
        if isinstance(item, FailedInput) and item.input in repeated
    ]
    prepared = [
        item
        for item in batch.prepared
        if not (isinstance(item, FailedInput) and item.input in repeated)
    ]

    def record_crawl(conn: duckdb.DuckDBPyConnection, outcomes: list[StoredOutcome]) -> None:
        _insert_fetches(conn, run_id, batch.fetches)
        save_robots(conn, batch.robots)
        _update_tracked(conn, settings, batch, [*outcomes, *skipped])

    return [
        *store_batch(
            settings,
            run_id,
            prepared,
            before_commit=record_crawl,
            reload=lambda d: load_archived(settings, d),
        ),
        *skipped,
    ]


# --- feeds --------------------------------------------------------------------------------------


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
    now = _now()
    with open_writer(settings) as conn:
        state = {
            row[0]: row
            for row in conn.execute(sql("feed_state"), {"urls": [s.url for s in specs]}).fetchall()
        }
        robots = known_robots(conn, settings, [s.url for s in specs])
        recent = recent_requests(conn, settings)
    # Pages an earlier poll of any listed feed discovered but did not fetch (it was stopped,
    # or met its page cap) are fetched now, even while their feed is not due again.
    listed = [s.url for s in specs if s.enabled]
    specs = feeds_due(
        specs, {url: row[6] for url, row in state.items()}, now, everything=everything
    )
    requests = [
        FetchRequest(
            s.url,
            state[s.url][2] if s.url in state else None,
            state[s.url][3] if s.url in state else None,
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
            "etag": old[2] if old else None,
            "last_modified": old[3] if old else None,
            "last_polled_at": now,
            "next_poll_at": now + interval,
            "consecutive_failures": 0,
            "last_error": None,
            "entries_seen": old[9] if old else 0,
            "last_status": None,
        }
        report: dict[str, Any] = {"feed": spec.name, "url": spec.url}
        poll.feeds_polled += 1
        fetches.append(_record(result, spec.url, "feed"))
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
            failures = (old[7] if old else 0) + 1
            delay = retry_delay(failures, settings) or timedelta(
                minutes=settings.refresh_max_minutes
            )
            row.update(
                consecutive_failures=failures,
                last_error=str(error),
                # validators of an unusable answer would turn the next poll into a quiet 304
                etag=old[2] if old else None,
                last_modified=old[3] if old else None,
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
        tracked = (
            conn.execute(sql("tracked_state"), {"urls": list(candidates)}).fetchall()
            if candidates
            else []
        )
        pending = conn.execute(sql("pending_urls"), {"feeds": listed}).fetchall()
        fetched = {row[0] for row in tracked if row[7] is not None or row[12]}
        discovered = [t for url, t in candidates.items() if url not in fetched]
        targets = {url: PageTarget(url, feed_url=feed_url) for url, feed_url in pending}
        targets.update((t.url, t) for t in discovered if t.url not in targets)
        poll.new_targets = list(targets.values())[: settings.max_pages_per_poll]
        known = {row[0] for row in tracked}
        new_rows = [
            {"url": t.url, "feed_url": t.feed_url} for t in discovered if t.url not in known
        ]
        _insert_fetches(conn, run_id, fetches)
        save_robots(conn, robots.fetched.values())
        conn.execute(sql("upsert_feeds"), {"rows": json.dumps(feed_rows, default=_json_default)})
        if new_rows:
            conn.execute(sql("insert_discovered"), {"rows": json.dumps(new_rows), "now": now})
        if entry_rows:
            conn.execute(
                sql("insert_feed_entries"),
                {
                    "rows": json.dumps(entry_rows, default=_json_default),
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


# --- runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSteps:
    """Steps of the web runs; plain functions or Prefect tasks with the same signatures."""

    begin: Callable[..., object]
    finish: Callable[..., None]
    fetch_pages: Callable[[Settings, Sequence[PageTarget]], PageBatch]
    fetch_stream: Callable[[Settings, Sequence[PageTarget], Handoff[FetchedBatch]], None]
    prepare_pages: Callable[[Settings, FetchedBatch], PageBatch]
    store_pages: Callable[[Settings, str, PageBatch], list[StoredOutcome]]
    store_failures: Callable[[Settings, str, Sequence[PreparedItem]], list[StoredOutcome]]
    poll_feeds: Callable[[Settings, str, Sequence[FeedSpec], bool], FeedPoll]
    reprocess_batch: Callable[[Settings, str, Sequence[tuple[str, str]]], list[StoredOutcome]]
    refresh: Callable[[Settings], None] = refresh_search


def _run(
    flow: str,
    settings: Settings,
    steps: WebSteps,
    body: Callable[[RunSummary], None],
    *,
    arguments: dict[str, Any],
    context: RunContext,
) -> RunSummary:
    return run_recorded(
        flow,
        settings,
        body,
        begin=steps.begin,
        finish=steps.finish,
        refresh=steps.refresh,
        arguments=arguments,
        context=context,
    )


def interleave_hosts(targets: Sequence[PageTarget]) -> list[PageTarget]:
    """The targets taken round-robin over their hosts (order kept within a host), so that the
    pages fetched at any moment spread over as many hosts as they can: the fetch stage admits
    a bounded window of pages in this order (the serial path: one batch after the other), and
    a window of one outlet's pages would wait on that host's politeness limits alone."""
    queues: dict[str, list[PageTarget]] = {}
    for target in targets:
        queues.setdefault(urlsplit(target.url).hostname or "", []).append(target)
    rounds = itertools.zip_longest(*queues.values())
    return [target for round_ in rounds for target in round_ if target is not None]


def _fetch_and_store(
    settings: Settings,
    steps: WebSteps,
    run_id: str,
    targets: Sequence[PageTarget],
    summary: RunSummary,
    context: RunContext,
) -> None:
    ordered = interleave_hosts(targets)
    done = 0
    if not settings.pipeline_overlap:  # the serial path: fetch, extract, write, next batch
        for batch in chunks(ordered, settings.batch_size):
            summary.add(steps.store_pages(settings, run_id, steps.fetch_pages(settings, batch)))
            done += len(batch)
            context.progress(done, len(targets))
        return
    if not ordered:
        return

    def store(batch: PageBatch) -> None:
        nonlocal done
        summary.add(steps.store_pages(settings, run_id, batch))
        done += len(batch.targets)
        context.progress(done, len(targets))

    pool = active_pool()
    run_stages(
        lambda handoff: steps.fetch_stream(settings, ordered, handoff),
        lambda fetched: steps.prepare_pages(settings, fetched),
        store,
        # a failed write, Ctrl+C, SIGTERM: stop the workers, so the batch being extracted
        # ends at once (PoolClosed) instead of running to its end
        on_stop=pool.close if pool is not None else lambda: None,
    )


def run_url_ingest(
    urls: Sequence[str],
    settings: Settings,
    *,
    steps: WebSteps | None = None,
    context: RunContext = LOCAL_RUN,
) -> RunSummary:
    """Fetch and store the given URLs (conditional GET when a URL is already tracked)."""
    steps = steps or PLAIN_WEB_STEPS

    def body(summary: RunSummary) -> None:
        targets, failures = targets_for_urls(urls)
        if failures:
            summary.add(steps.store_failures(settings, summary.run_id, failures))
        _fetch_and_store(
            settings,
            steps,
            summary.run_id,
            with_validators(settings, targets),
            summary,
            context,
        )

    return _run(
        "ingest_urls",
        settings,
        steps,
        body,
        arguments={"urls": list(urls)},
        context=context,
    )


def run_poll(
    feeds_file: Path | None,
    settings: Settings,
    *,
    everything: bool = False,
    steps: WebSteps | None = None,
    context: RunContext = LOCAL_RUN,
) -> tuple[RunSummary, FeedPoll]:
    """Poll the feeds that are due (``everything``: all enabled feeds) and store new pages. An
    entry whose url is not http(s) is a recorded failure naming its line; the others are
    polled. Any other problem of the list stops here, before anything is fetched."""
    steps = steps or PLAIN_WEB_STEPS
    feed_list = read_feed_list(feeds_file or settings.feeds_file)
    specs = feed_list.specs
    polls: list[FeedPoll] = []

    def body(summary: RunSummary) -> None:
        if feed_list.rejected:
            rejected: list[PreparedItem] = [
                FailedInput(error.url, error.stage, error.code, str(error))
                for error in feed_list.rejected
            ]
            summary.add(steps.store_failures(settings, summary.run_id, rejected))
        poll = steps.poll_feeds(settings, summary.run_id, specs, everything)
        polls.append(poll)
        summary.skipped += len(poll.skips)
        summary.add(
            [
                StoredOutcome(
                    "failed", f.input, None, message=f.message, stage=f.stage, error=f.error
                )
                for f in poll.failures
            ]
        )
        _fetch_and_store(settings, steps, summary.run_id, poll.new_targets, summary, context)

    summary = _run(
        "poll_feeds",
        settings,
        steps,
        body,
        arguments={"feeds_file": str(feeds_file or settings.feeds_file), "all": everything},
        context=context,
    )
    return summary, polls[0]


def run_refresh(
    settings: Settings,
    *,
    everything: bool = False,
    limit: int = 100_000,
    steps: WebSteps | None = None,
    context: RunContext = LOCAL_RUN,
) -> RunSummary:
    """Revisit known stories that are due (``everything``: all of them now)."""
    steps = steps or PLAIN_WEB_STEPS

    def body(summary: RunSummary) -> None:
        targets = due_targets(settings, everything=everything, limit=limit)
        _fetch_and_store(settings, steps, summary.run_id, targets, summary, context)

    return _run(
        "refresh_articles",
        settings,
        steps,
        body,
        arguments={"all": everything, "limit": limit},
        context=context,
    )


def run_retry(
    settings: Settings,
    *,
    steps: WebSteps | None = None,
    context: RunContext = LOCAL_RUN,
) -> RunSummary:
    """Fetch again, now, every failing URL that was not given up."""
    steps = steps or PLAIN_WEB_STEPS

    def body(summary: RunSummary) -> None:
        _fetch_and_store(
            settings, steps, summary.run_id, failing_targets(settings), summary, context
        )

    return _run(
        "retry_failures",
        settings,
        steps,
        body,
        arguments={},
        context=context,
    )


def reprocess_candidates(settings: Settings, *, everything: bool = False) -> list[tuple[str, str]]:
    """(identity, raw_hash) of archived web stories extracted by another extractor version."""
    with open_writer(settings) as conn:
        rows = conn.execute(
            sql("reprocess_candidates"),
            {"version": extractor_version("url", settings.extraction_mode), "all": everything},
        ).fetchall()
    return [(row[0], row[2]) for row in rows]


def reprocess_batch(
    settings: Settings, run_id: str, candidates: Sequence[tuple[str, str]]
) -> list[StoredOutcome]:
    """Re-extract archived raw pages with the current extractor and store the results: a new
    revision only where the extracted content really changes."""
    documents: list[SourceDocument] = []
    with open_writer(settings) as conn:
        for identity, raw_hash in candidates:
            documents.append(
                SourceDocument(
                    identity, identity, "url", archived_body(conn, raw_hash), raw_hash, url=identity
                )
            )
    return store_batch(
        settings, run_id, prepare_documents(documents, known={}, mode=settings.extraction_mode)
    )


def run_reprocess(
    settings: Settings,
    *,
    everything: bool = False,
    steps: WebSteps | None = None,
    context: RunContext = LOCAL_RUN,
) -> RunSummary:
    steps = steps or PLAIN_WEB_STEPS

    def body(summary: RunSummary) -> None:
        candidates = reprocess_candidates(settings, everything=everything)
        done = 0
        for batch in chunks(candidates, settings.batch_size):
            summary.add(steps.reprocess_batch(settings, summary.run_id, batch))
            done += len(batch)
            context.progress(done, len(candidates))

    return _run(
        "reprocess",
        settings,
        steps,
        body,
        arguments={"all": everything},
        context=context,
    )


PLAIN_WEB_STEPS = WebSteps(
    begin=begin_run,
    finish=finish_run,
    fetch_pages=fetch_pages,
    fetch_stream=fetch_stream,
    prepare_pages=prepare_pages,
    store_pages=store_pages,
    store_failures=store_batch,
    poll_feeds=poll_feeds,
    reprocess_batch=reprocess_batch,
)


# --- watching revised stories -------------------------------------------------------------------


@dataclass(frozen=True)
class WatchResult:
    """What ``watch_article`` did: the story's revision and, per tracked URL, the new factor
    and next visit (empty when the story has no tracked URL, e.g. a local file)."""

    article_id: str
    revision: int | None
    urls: list[dict[str, Any]]


def watch_article(settings: Settings, article_id: str, revision: int | None = None) -> WatchResult:
    """Watch a revised story more closely: its watch factor becomes
    ``watch_factor_step ** (revision - 1)`` (capped at ``watch_factor_max``, never lowered) and
    its next visit moves earlier to match. Derived from the revision number rather than
    multiplied, so a retried or repeated call changes nothing more. A ledger file that does not
    exist (an event from another machine's ledger) is left alone, not created."""
    if not settings.db.exists():
        return WatchResult(article_id, revision, [])
    now = _now()
    with open_writer(settings) as conn:
        conn.execute("BEGIN TRANSACTION")
        rows = conn.execute(sql("watched_urls"), {"article_id": article_id}).fetchall()
        revision = revision or (rows[0][4] if rows else None) or 1
        target = min(settings.watch_factor_max, settings.watch_factor_step ** (revision - 1))
        changes = []
        for url, factor, next_check, since, _latest in rows:
            watch = max(factor, target)
            sooner = now + revisit_interval(now, since, settings, watch)
            changes.append(
                {"url": url, "watch_factor": watch, "next_check_at": min(next_check, sooner)}
            )
        if changes:
            conn.execute(sql("watch_urls"), {"rows": json.dumps(changes, default=_json_default)})
        conn.execute("COMMIT")
    return WatchResult(article_id, revision, changes)
