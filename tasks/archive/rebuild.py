"""``newsledger reprocess --from-warc DIR``: revisions rebuilt from WARC files alone.

Every ``response`` record of an HTML page (``Newsledger-Fetch-Kind: html``; for files written
by other tools, a 2xx ``text/html`` response) is read back, its transfer coding and content
coding undone exactly as the fetcher does, and stored as an observation of its story (the
``Newsledger-Requested-URI``, else the normalised target URI) at its WARC-Date, oldest first,
with the current extractor: unchanged content is an unchanged observation, changed content a
new revision. 304s (``revisit``), feeds, robots.txt, failures and truncated records carry no
page to extract and are skipped.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsledger.tasks.archive.records import KIND_FIELD, REQUESTED_FIELD
from newsledger.tasks.crawl.models import page_document
from newsledger.tasks.errors import FetchError
from newsledger.tasks.fetch.decoding import decode_body, parse_content_type
from newsledger.tasks.models import RunSummary, SourceDocument
from newsledger.tasks.pipeline import (
    LOCAL_RUN,
    RunContext,
    prepare_documents,
    run_recorded,
    store_batch,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import begin_run, finish_run
from newsledger.tasks.urls import normalize_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True)
class PageRecord:
    """Where a page response is, and whose story it is (read without its body)."""

    fetched_at: datetime
    identity: str
    path: Path
    offset: int


def warc_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith((".warc.gz", ".warc")))


def page_records(folder: Path) -> list[PageRecord]:
    """The page responses of every WARC file in ``folder``, oldest first."""
    from warcio.archiveiterator import ArchiveIterator

    found: list[PageRecord] = []
    for path in warc_files(folder):
        with path.open("rb") as handle:
            iterator = ArchiveIterator(handle)
            for record in iterator:
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                headers = record.rec_headers
                kind = headers.get_header(KIND_FIELD)
                if headers.get_header("WARC-Truncated") or kind not in (None, "html"):
                    continue
                status = record.http_headers.get_statuscode()
                if not (status.isdigit() and 200 <= int(status) <= 299):
                    continue
                mime, _ = parse_content_type(record.http_headers.get_header("content-type"))
                if kind is None and mime not in HTML_TYPES:
                    continue
                target = headers.get_header("WARC-Target-URI") or ""
                requested = headers.get_header(REQUESTED_FIELD) or target
                date = headers.get_header("WARC-Date") or ""
                found.append(
                    PageRecord(
                        _parse_date(date),
                        normalize_url(requested) or requested,
                        path,
                        iterator.get_record_offset(),
                    )
                )
    found.sort(key=lambda r: r.fetched_at)
    return found


def _parse_date(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def read_page(settings: Settings, page: PageRecord) -> SourceDocument:
    """The decoded body of a page record, as the fetcher would have stored it."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.bufferedreaders import ChunkedDataReader

    with page.path.open("rb") as handle:
        handle.seek(page.offset)
        record = next(iter(ArchiveIterator(handle)))
        raw = record.raw_stream.read()
        http = record.http_headers
        target = record.rec_headers.get_header("WARC-Target-URI") or page.identity
    if (http.get_header("transfer-encoding") or "").lower() == "chunked":
        raw = ChunkedDataReader(io.BytesIO(raw)).read()
    body = decode_body(
        raw, http.get_header("content-encoding"), settings.max_decompressed_bytes, target
    )
    _, charset = parse_content_type(http.get_header("content-type"))
    return page_document(
        page.identity, body, hashlib.sha256(body).hexdigest(), page.fetched_at, target, charset
    )


def _batches(pages: list[PageRecord], size: int) -> Iterator[list[PageRecord]]:
    """Batches of at most ``size`` pages, a story at most once per batch (its observations are
    stored in order, one transaction after the other)."""
    batch: list[PageRecord] = []
    seen: set[str] = set()
    for page in pages:
        if len(batch) >= size or page.identity in seen:
            yield batch
            batch, seen = [], set()
        batch.append(page)
        seen.add(page.identity)
    if batch:
        yield batch


def run_rebuild_from_warc(
    settings: Settings, folder: Path, *, context: RunContext = LOCAL_RUN
) -> RunSummary:
    """Store every page of the WARC files of ``folder`` into the ledger of ``settings``."""

    def body(summary: RunSummary) -> None:
        pages = page_records(folder)
        done = 0
        for batch in _batches(pages, settings.batch_size):
            documents: list[SourceDocument] = []
            for page in batch:
                try:
                    documents.append(read_page(settings, page))
                except FetchError as error:  # a body whose coding is corrupt: skipped
                    summary.skipped += 1
                    del error
            prepared = prepare_documents(documents, known={}, mode=settings.extraction_mode)
            summary.add(store_batch(settings, summary.run_id, prepared))
            done += len(batch)
            context.progress(done, len(pages))

    return run_recorded(
        "reprocess_warc",
        settings,
        body,
        begin=begin_run,
        finish=finish_run,
        arguments={"from_warc": str(folder)},
        context=context,
    )
