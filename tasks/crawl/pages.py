"""Fetching and extracting pages: a batch at a time (the serial path), or streamed batch by
batch into the overlapped pipeline (``tasks/overlap.py``); a 304 or an unchanged body costs
no extraction, a failed fetch becomes a recorded failure."""

from __future__ import annotations

from collections.abc import Sequence

from newsledger.tasks.clean import extractor_version
from newsledger.tasks.crawl.models import (
    FetchedBatch,
    FetchRecord,
    PageBatch,
    PageTarget,
    fetch_record,
    page_document,
)
from newsledger.tasks.crawl.state import read_crawl_start
from newsledger.tasks.errors import FetchError
from newsledger.tasks.fetch import FetchRequest, fetch_all
from newsledger.tasks.models import FailedInput, KnownUnchanged, PreparedItem, SourceDocument
from newsledger.tasks.overlap import FetchedPart, Handoff, stream_fetches
from newsledger.tasks.pipeline import prepare_documents
from newsledger.tasks.settings import Settings


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
        record = fetch_record(result, target.url, "page")
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
            document = page_document(
                target.url, b"", last.raw_hash, result.fetched_at, result.final_url
            )
            prepared.append(
                KnownUnchanged(
                    document,
                    last.content_hash,
                    last.extractor_version or extractor_version("url", settings.extraction_mode),
                )
            )
            continue
        document = page_document(
            target.url,
            result.body,
            record.raw_hash or "",
            result.fetched_at,
            result.final_url,
            result.charset,
        )
        to_extract.append((len(prepared), document))
        prepared.append(FailedInput(target.url, "clean", "pending", ""))  # placeholder
    extracted = prepare_documents(
        [d for _, d in to_extract], fetched.known, settings.extraction_mode
    )
    for (position, _document), item in zip(to_extract, extracted, strict=True):
        prepared[position] = item
    return PageBatch(list(fetched.targets), prepared, fetches, list(fetched.robots))
