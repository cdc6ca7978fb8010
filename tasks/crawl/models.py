"""The values the crawl steps hand each other: the pages to fetch (``PageTarget``), one fetch
for the log and the raw archive (``FetchRecord``), and the batches of pages between fetching,
extraction and storing. Plain values: nothing here reads or writes the ledger."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from newsledger.tasks.archive import WarcLocation
from newsledger.tasks.errors import FetchError
from newsledger.tasks.fetch import FetchedPage, RobotsRecord
from newsledger.tasks.models import FailedInput, LastObservation, PreparedItem, SourceDocument
from newsledger.tasks.urls import normalize_url
from newsledger.tasks.values import utc_now


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
class FetchedBatch:
    """Fetch results of one batch, not yet extracted, with what the ledger knew of its URLs."""

    targets: list[PageTarget]
    results: list[FetchedPage | FetchError]
    known: dict[str, LastObservation] = field(default_factory=dict)
    """The last observation of each URL (a page's input is its URL), read before fetching."""
    robots: list[RobotsRecord] = field(default_factory=list)  # robots.txt fetched meanwhile


def fetch_record(page: FetchedPage | FetchError, url: str, purpose: str) -> FetchRecord:
    if isinstance(page, FetchError):
        return FetchRecord(
            url, purpose, utc_now(), status=page.status, error=page.code, warc=page.warc
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


def page_document(
    identity: str,
    body: bytes,
    raw_hash: str,
    fetched_at: datetime | None = None,
    url: str | None = None,
    charset: str | None = None,
) -> SourceDocument:
    """The source document of a web page: its story's identity (the normalised URL it was
    asked under) is also its source, with the body as fetched (or read back from the raw
    archive or a WARC file), the URL it was answered from and the declared charset."""
    return SourceDocument(
        identity, identity, "url", body, raw_hash, fetched_at, url, charset=charset
    )


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
