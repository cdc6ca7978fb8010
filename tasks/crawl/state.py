"""Reading crawl state: validators for conditional GETs, the URLs due for a visit or failing,
robots.txt rules still fresh, the hosts asked a moment ago, the refusals already recorded, and
raw pages back from the archive. Reads that stand alone go through a read-only connection
(:func:`open_crawl_reader`); those taking a ``conn`` run inside the writer's transaction
(``tasks/crawl/records.py``) where they must see what it wrote before them."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import duckdb
from newsledger.tasks.clean import extractor_version
from newsledger.tasks.crawl.models import PageBatch, PageTarget
from newsledger.tasks.crawl.policy import policy_fingerprint, policy_refusals, refusal_fingerprint
from newsledger.tasks.errors import FetchError
from newsledger.tasks.fetch import RobotsCache, RobotsRecord, host_of, origin_of
from newsledger.tasks.models import FailedInput, LastObservation, SourceDocument
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader, read_last_observations_by_input, sql
from newsledger.tasks.values import utc_now


class TrackedUrl(NamedTuple):
    """A row of ``tracked_urls`` (``tracked_state.sql``): the crawl state of one URL."""

    url: str
    article_id: str | None
    feed_url: str | None
    discovered_at: datetime
    etag: str | None
    last_modified: str | None
    last_status: int | None
    last_fetched_at: datetime | None
    last_changed_at: datetime | None
    next_check_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    gave_up: bool
    watch_factor: float
    alias_of: str | None
    refused_policy: str | None


class FeedState(NamedTuple):
    """A row of ``feeds`` (``feed_state.sql``): the poll state of one feed."""

    feed_url: str
    name: str | None
    etag: str | None
    last_modified: str | None
    last_status: int | None
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    entries_seen: int


def _named(cursor: duckdb.DuckDBPyConnection, shape: Any) -> list[Any]:
    """The rows of ``cursor`` as ``shape`` (a NamedTuple), matched by column name."""
    names = [d[0] for d in cursor.description or []]
    return [shape(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def tracked_state(conn: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, TrackedUrl]:
    """The crawl state of those of ``urls`` that are tracked, by URL."""
    cursor = conn.execute(sql("tracked_state"), {"urls": list(urls)})
    return {row.url: row for row in _named(cursor, TrackedUrl)}


def feed_state(conn: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, FeedState]:
    """The poll state of those of the feeds ``urls`` polled before, by feed URL."""
    cursor = conn.execute(sql("feed_state"), {"urls": list(urls)})
    return {row.feed_url: row for row in _named(cursor, FeedState)}


@contextmanager
def open_crawl_reader(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for the reads of a run, which began (``begin_run``) and so
    created and migrated the ledger: many processes may hold one at once, and none can write
    through it. DuckDB refuses it while this process holds a writer on the same file (one
    configuration per file and process): the steps read before or after their writes."""
    with open_reader(settings, locked_down=False, query_timeout=None) as conn:
        yield conn


def with_validators(settings: Settings, targets: Sequence[PageTarget]) -> list[PageTarget]:
    """Add the ETag / Last-Modified of the last fetch of each known URL (conditional GET)."""
    if not targets:
        return []
    with open_crawl_reader(settings) as conn:
        state = tracked_state(conn, [t.url for t in targets])
    return [
        replace(
            t,
            etag=state[t.url].etag,
            last_modified=state[t.url].last_modified,
            feed_url=t.feed_url or state[t.url].feed_url,
        )
        if t.url in state
        else t
        for t in targets
    ]


def due_targets(
    settings: Settings, *, everything: bool = False, limit: int = 100_000
) -> list[PageTarget]:
    with open_crawl_reader(settings) as conn:
        rows = conn.execute(
            sql("due_urls"),
            {
                "now": utc_now(),
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
    with open_crawl_reader(settings) as conn:
        rows = conn.execute(sql("failing_urls")).fetchall()
    return [PageTarget(*row) for row in rows]


def known_robots(
    conn: duckdb.DuckDBPyConnection, settings: Settings, urls: Iterable[str]
) -> RobotsCache:
    """The robots.txt rules stored for the origins of ``urls`` that are still fresh."""
    origins = sorted({o for url in urls if (o := origin_of(url))})
    if not origins or not settings.respect_robots or settings.robots_cache_hours <= 0:
        return RobotsCache()
    fresh_after = utc_now() - timedelta(hours=settings.robots_cache_hours)
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
    since = utc_now() - timedelta(seconds=window)
    latest: dict[str, datetime] = {}
    for url, fetched_at in conn.execute(sql("recent_fetches"), {"since": since}).fetchall():
        host = host_of(url)
        if host is not None and (host not in latest or fetched_at > latest[host]):
            latest[host] = fetched_at
    return latest


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
    with open_crawl_reader(settings) as conn:
        return CrawlStart(
            read_last_observations_by_input(conn, urls),
            known_robots(conn, settings, urls),
            recent_requests(conn, settings),
        )


def robots_bodies(conn: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, str | None]:
    origins = sorted({o for url in urls if (o := origin_of(url))})
    if not origins:
        return {}
    return dict(conn.execute(sql("robots_bodies"), {"origins": origins}).fetchall())


def refusal_fingerprints(
    conn: duckdb.DuckDBPyConnection, settings: Settings, refusals: Sequence[FailedInput]
) -> dict[str, str]:
    bodies = robots_bodies(conn, [f.input for f in refusals])
    return {
        f.input: refusal_fingerprint(settings, f.error, bodies.get(origin_of(f.input) or ""))
        for f in refusals
    }


def repeated_refusals(settings: Settings, batch: PageBatch) -> set[str]:
    """URLs of the batch refused again by the very policy that refused them last time."""
    refusals = policy_refusals(batch)
    if not refusals:
        return set()
    with open_crawl_reader(settings) as conn:
        state = tracked_state(conn, [f.input for f in refusals])
        before = {url: row.refused_policy for url, row in state.items()}
        now = refusal_fingerprints(conn, settings, refusals)
    return {url for url, fingerprint in now.items() if before.get(url) == fingerprint}


def load_archived(settings: Settings, document: SourceDocument) -> SourceDocument:
    """The document with its body read back from the raw archive."""
    with open_crawl_reader(settings) as conn:
        return replace(document, raw=archived_body(conn, document.raw_hash))


def archived_body(conn: duckdb.DuckDBPyConnection, raw_hash: str) -> bytes:
    row = conn.execute(sql("raw_page"), {"raw_hash": raw_hash}).fetchone()
    if row is None:
        raise FetchError(f"raw page {raw_hash} is not in the archive", code="not_archived")
    return zlib.decompress(row[1])


def reprocess_candidates(settings: Settings, *, everything: bool = False) -> list[tuple[str, str]]:
    """(identity, raw_hash) of archived web stories extracted by another extractor version."""
    with open_crawl_reader(settings) as conn:
        rows = conn.execute(
            sql("reprocess_candidates"),
            {"version": extractor_version("url", settings.extraction_mode), "all": everything},
        ).fetchall()
    return [(row[0], row[2]) for row in rows]
