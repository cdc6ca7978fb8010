"""The ingest pipeline as plain functions: prepare a batch (load → clean → metadata), store it
(one transaction), and the run that strings batches together.

``run_file_ingest`` is written once and takes its steps as an :class:`IngestSteps` value:
``PLAIN_STEPS`` (these functions, for the CLI's in-process fast path) or the Prefect task
wrappers from ``tasks/prefect_tasks.py`` (for flow runs), so both paths do exactly the same.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from newsledger.tasks.clean import DEFAULT_EXTRACTION_MODE, clean_document, extractor_version
from newsledger.tasks.errors import InputError, NewsledgerError, TooManyElementsError
from newsledger.tasks.extraction_pool import (
    MEMORY_MESSAGE,
    active_pool,
    extraction_session,
    session_limits,
    wants_pool,
)
from newsledger.tasks.load import (
    Discovery,
    FileInput,
    discover_files,
    document_kind,
    load_documents,
    reread_file,
    unchanged_since_last,
)
from newsledger.tasks.metadata import describe
from newsledger.tasks.models import (
    ExtractedArticle,
    FailedInput,
    KnownUnchanged,
    LastObservation,
    PreparedItem,
    RunSummary,
    SourceDocument,
    StoredOutcome,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import (
    BeforeCommit,
    batch_key,
    begin_run,
    finish_run,
    last_observations_by_input,
    write_batch,
)

T = TypeVar("T")
MAX_STALE_ROUNDS = 3


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


SEEN_FILE_WEIGHT = 0.1  # a file seen before is usually unchanged: no extraction, tiny write
MAX_BATCH_FACTOR = 10  # …but a batch never holds more than 10 × batch_size files


def plan_batches(inputs: Sequence[FileInput], batch_size: int) -> Iterator[list[FileInput]]:
    """Cut inputs into batches by expected cost: ``batch_size`` files to extract, where a file
    seen before counts a tenth. An unchanged re-ingest then writes in a few transactions
    instead of one per ``batch_size`` files, while new files keep batches small."""
    batch: list[FileInput] = []
    weight = 0.0
    for item in inputs:
        batch.append(item)
        weight += SEEN_FILE_WEIGHT if item.last is not None else 1.0
        if weight >= batch_size or len(batch) >= batch_size * MAX_BATCH_FACTOR:
            yield batch
            batch, weight = [], 0.0
    if batch:
        yield batch


def new_run_id() -> str:
    return uuid.uuid4().hex


DEFAULT_MAX_ELEMENTS: int = Settings.model_fields["extract_max_elements"].default
IMPLIED_ELEMENTS = 4  # elements a parser adds with no tag in the page (html, head, body…)


def check_element_count(document: SourceDocument, max_elements: int) -> None:
    """Refuse an HTML page of more than ``max_elements`` elements before trafilatura sees it
    (``TooManyElementsError``): its cost grows faster than the page (see the setting). Every
    element the page spells opens with a ``<``, so counting that byte settles an ordinary page
    in microseconds; only a page with more ``<`` than the limit is parsed and counted."""
    if max_elements <= 0 or document.kind != "html":
        return
    if document.raw.count(b"<") + IMPLIED_ELEMENTS <= max_elements:
        return
    import trafilatura
    from newsledger.tasks.encoding import decode_html

    tree = trafilatura.load_html(decode_html(document.raw, document.charset))
    if tree is None:
        return  # not HTML at all: the clean stage says so
    count = sum(1 for _ in tree.iter())
    del tree
    if count > max_elements:
        raise TooManyElementsError(
            f"{document.source}: the page has {count:,} HTML elements, more than "
            f"{max_elements:,} (NEWSLEDGER_EXTRACT_MAX_ELEMENTS); not extracted"
        )


def extract_document(
    document: SourceDocument,
    mode: str = DEFAULT_EXTRACTION_MODE,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> ExtractedArticle | FailedInput:
    """Clean and describe one document; any error becomes a recorded failure with its reason."""
    try:
        check_element_count(document, max_elements)
        content = describe(document, clean_document(document, mode))
    except NewsledgerError as error:
        return FailedInput(
            document.source,
            error.stage,
            error.code,
            error.message,
            document.identity,
            document.raw_hash,
        )
    except MemoryError:  # a worker's address-space backstop (tasks/extraction_pool.py)
        return FailedInput(
            document.source,
            "clean",
            "extraction_memory",
            f"{document.source}: {MEMORY_MESSAGE}",
            document.identity,
            document.raw_hash,
        )
    except Exception as error:  # an extractor bug must not stop the run: record it
        return FailedInput(
            document.source,
            "clean",
            "extractor_crash",
            f"{document.source}: the extractor failed ({type(error).__name__}: {error})",
            document.identity,
            document.raw_hash,
        )
    return ExtractedArticle(document, content, extractor_version(document.kind, mode))


def extract_documents(
    documents: Sequence[SourceDocument], mode: str = DEFAULT_EXTRACTION_MODE
) -> list[ExtractedArticle | FailedInput]:
    """Extract documents in the run's worker pool (time and memory limits, see
    ``tasks/extraction_pool.py``), or in-process when there is none or the input is small."""
    pool = active_pool()
    if pool is not None and wants_pool(pool, documents):
        return pool.extract(documents, mode)
    if pool is not None:  # counted: the run starts its workers once it has extracted enough
        pool.in_process_bytes += sum(len(document.raw) for document in documents)
    limits = session_limits()
    max_elements = DEFAULT_MAX_ELEMENTS if limits is None else limits.max_elements
    return [extract_document(document, mode, max_elements) for document in documents]


def prepare_documents(
    documents: Sequence[SourceDocument],
    known: dict[str, LastObservation],
    mode: str = DEFAULT_EXTRACTION_MODE,
) -> list[PreparedItem]:
    """Extract each document, unless its raw bytes and extractor version are exactly what was
    seen last time (then it is ``KnownUnchanged`` and extraction is skipped)."""
    prepared: list[PreparedItem | None] = []
    to_extract: list[tuple[int, SourceDocument]] = []
    for document in documents:
        last = known.get(document.identity)
        version = extractor_version(document.kind, mode)
        if (
            last is not None
            and last.content_hash
            and last.raw_hash == document.raw_hash
            and last.extractor_version == version
        ):
            prepared.append(KnownUnchanged(document, last.content_hash, version))
        else:
            to_extract.append((len(prepared), document))
            prepared.append(None)
    extracted = extract_documents([document for _, document in to_extract], mode)
    for (position, _document), item in zip(to_extract, extracted, strict=True):
        prepared[position] = item
    return [item for item in prepared if item is not None]


def prepare_file_batch(settings: Settings, batch: Sequence[FileInput]) -> list[PreparedItem]:
    """Load a batch of files and extract what is new. What each file looked like last time
    was read once for the whole run (``discover``): a file whose stat signature is unchanged
    is not even read (``Settings.trust_file_stat``); one whose bytes hash as before is not
    extracted."""
    prepared: dict[int, PreparedItem] = {}
    to_read: list[tuple[int, FileInput]] = []
    for index, item in enumerate(batch):
        kind = document_kind(item.path)
        last = item.last
        skipped = (
            unchanged_since_last(item, kind)
            if settings.trust_file_stat and kind is not None and last is not None
            else None
        )
        version = extractor_version(kind, settings.extraction_mode) if kind else None
        if (
            skipped is not None
            and last is not None
            and last.content_hash
            and last.extractor_version == version
            and version is not None
        ):
            prepared[index] = KnownUnchanged(skipped, last.content_hash, version)
        else:
            to_read.append((index, item))
    loaded = load_documents([item for _index, item in to_read], settings.max_file_bytes)
    documents = [item for item in loaded if isinstance(item, SourceDocument)]
    known = {
        document.identity: item.last
        for (_index, item), document in zip(to_read, loaded, strict=True)
        if isinstance(document, SourceDocument)
        and item.last is not None
        and item.last.identity in (None, document.identity)  # same path, same story
    }
    extracted = iter(prepare_documents(documents, known, settings.extraction_mode))
    for (index, _item), result in zip(to_read, loaded, strict=True):
        prepared[index] = next(extracted) if isinstance(result, SourceDocument) else result
    return [prepared[index] for index in range(len(batch))]


def _key(run_id: str, items: Sequence[PreparedItem]) -> str | None:
    return batch_key(run_id, items) if items else None  # an empty batch stores no input


def store_batch(
    settings: Settings,
    run_id: str,
    prepared: Sequence[PreparedItem],
    *,
    before_commit: BeforeCommit | None = None,
    reload: Callable[[SourceDocument], SourceDocument] | None = None,
) -> list[StoredOutcome]:
    """Write a prepared batch. Sources skipped as unchanged whose article was revised by another
    process meanwhile come back stale: they are extracted and written again (``reload`` gives
    back the bytes of a document that travelled without them, e.g. after a 304)."""
    # Keyed, so that a retry of this call after the write committed stores nothing twice.
    outcomes, stale = write_batch(
        settings, run_id, prepared, before_commit=before_commit, key=_key(run_id, prepared)
    )
    for _round in range(MAX_STALE_ROUNDS):
        if not stale:
            break
        redo: list[PreparedItem] = []
        reread: list[SourceDocument] = []
        for item in stale:
            document = item.document
            if document.raw:
                reread.append(document)
                continue
            try:  # a page after a 304 (``reload``) or a file skipped by its stat signature
                if reload is not None:
                    reread.append(reload(document))
                else:
                    reread.append(reread_file(document, settings.max_file_bytes))
            except InputError as error:
                redo.append(
                    FailedInput(
                        document.source, error.stage, error.code, error.message, document.identity
                    )
                )
        redo.extend(prepare_documents(reread, known={}, mode=settings.extraction_mode))
        more, stale = write_batch(settings, run_id, redo, key=_key(run_id, redo))
        outcomes.extend(more)
    if stale:
        outcomes.extend(
            StoredOutcome(
                "failed",
                item.document.source,
                None,
                stage="store",
                error="contention",
                message=f"{item.document.source}: kept changing under concurrent writers",
            )
            for item in stale
        )
    return outcomes


def refresh_search(settings: Settings) -> None:
    """Bring the full-text index up to date after a run that stored revisions; a refresh that
    cannot happen now is logged, never fails the run (see ``search.refresh_after_ingest``)."""
    from newsledger.tasks.search import refresh_after_ingest  # loads only when needed

    refresh_after_ingest(settings)


@dataclass(frozen=True)
class IngestSteps:
    """The steps of a file ingest; plain functions or Prefect tasks with the same signatures."""

    discover: Callable[[Sequence[str], Settings], Discovery]  # the file system only
    begin: Callable[..., dict[str, LastObservation]]
    prepare: Callable[[Settings, Sequence[FileInput]], list[PreparedItem]]
    store: Callable[[Settings, str, Sequence[PreparedItem]], list[StoredOutcome]]
    finish: Callable[..., None]
    refresh: Callable[[Settings], None] = refresh_search


def discover_inputs(arguments: Sequence[str], settings: Settings) -> Discovery:
    """Expand files, folders and globs (the file system only; see :func:`discover`)."""
    return discover_files(arguments, settings.files_root)


def with_last_observations(
    discovery: Discovery, known: dict[str, LastObservation]
) -> list[FileInput]:
    """The discovered files, each with how it looked when last ingested."""
    return [replace(i, last=known.get(str(i.path))) for i in discovery.inputs]


def discover(arguments: Sequence[str], settings: Settings) -> Discovery:
    """Expand the arguments and attach to every file how it looked when last ingested (for
    scripts and tests; a run reads the last observations in its begin step instead)."""
    discovery = discover_inputs(arguments, settings)
    known = last_observations_by_input(settings, [str(i.path) for i in discovery.inputs])
    discovery.inputs = with_last_observations(discovery, known)
    return discovery


PLAIN_STEPS = IngestSteps(discover_inputs, begin_run, prepare_file_batch, store_batch, finish_run)


@dataclass(frozen=True)
class RunContext:
    """How a run is driven: by whom (``local`` in-process, or a ``prefect`` flow run and its
    id), under which ledger run id (a new one by default), and who hears of its progress."""

    orchestrator: str = "local"
    prefect_flow_run_id: str | None = None
    run_id: str | None = None
    on_progress: Callable[[int, int], Any] | None = None

    def progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)


LOCAL_RUN = RunContext()


def run_recorded(
    flow: str,
    settings: Settings,
    body: Callable[[RunSummary], None],
    *,
    begin: Callable[..., object],
    finish: Callable[..., None],
    refresh: Callable[[Settings], None] = refresh_search,
    arguments: dict[str, Any],
    context: RunContext = LOCAL_RUN,
    skipped: int = 0,
) -> RunSummary:
    """Run ``body`` as one recorded run: its row in ``ingest_runs`` first, the full-text index
    brought up to date when it stored something, then its counts and status (``failed`` when
    ``body`` raised). Every file and web run goes through here."""
    run_id = context.run_id or new_run_id()
    begin(
        settings,
        run_id,
        flow,
        orchestrator=context.orchestrator,
        arguments=arguments,
        prefect_flow_run_id=context.prefect_flow_run_id,
    )
    summary = RunSummary(run_id, flow, skipped=skipped)
    status = "failed"
    try:
        with extraction_session(settings):  # worker processes, started on first need
            body(summary)
        if summary.new or summary.revised:  # keep full-text search current (tasks/search.py)
            refresh(settings)
        status = "completed"
    finally:
        finish(
            settings,
            run_id,
            new=summary.new,
            revised=summary.revised,
            unchanged=summary.unchanged,
            failed=summary.failed,
            skipped=summary.skipped,
            status=status,
        )
    return summary


Prepare = Callable[[Settings, Sequence[FileInput]], list[PreparedItem]]


def prepared_ahead(
    prepare: Prepare, settings: Settings, batches: Iterable[list[FileInput]]
) -> Iterator[tuple[list[FileInput], list[PreparedItem]]]:
    """Each batch with its prepared items, in order. When the run extracts in worker processes,
    batch N+1 is prepared (loaded in a helper thread, extracted by the workers) while the
    caller stores batch N, so the workers do not sit idle during the write; one batch ahead at
    most, so memory stays flat. Without a pool the batches are prepared one after the other.

    ``prepare`` may be a Prefect task: the helper thread runs it in a copy of the caller's
    context, so it is a task run of the same flow run, and it extracts in the same pool."""
    pool = active_pool()
    if pool is None:
        for batch in batches:
            yield batch, prepare(settings, batch)
        return
    iterator = iter(batches)
    with ThreadPoolExecutor(1, thread_name_prefix="newsledger-prepare") as helper:

        def submit(batch: list[FileInput]) -> Future[list[PreparedItem]]:
            return helper.submit(contextvars.copy_context().run, prepare, settings, batch)

        current = next(iterator, None)
        pending = submit(current) if current is not None else None
        try:
            while current is not None and pending is not None:
                prepared = pending.result()
                following = next(iterator, None)
                pending = submit(following) if following is not None else None
                yield current, prepared
                current = following
        except BaseException:
            # A failed write, Ctrl+C, SIGTERM: stop the workers now, so the batch being
            # extracted ahead ends at once (ExtractionPoolClosed) instead of running to its end.
            pool.close()
            if pending is not None:
                pending.cancel()
            raise


def run_file_ingest(
    arguments: Sequence[str],
    settings: Settings,
    *,
    steps: IngestSteps = PLAIN_STEPS,
    context: RunContext = LOCAL_RUN,
) -> RunSummary:
    """Ingest files, folders and globs: every input ends stored, unchanged or failed."""
    discovery = steps.discover(list(arguments), settings)

    def begin(settings: Settings, run_id: str, flow: str, **options: Any) -> None:
        # One open of the ledger records the run and reads how each file looked last time.
        paths = [str(i.path) for i in discovery.inputs]
        known = steps.begin(settings, run_id, flow, lookup_inputs=paths, **options)
        discovery.inputs = with_last_observations(discovery, known or {})

    def body(summary: RunSummary) -> None:
        if discovery.failures:
            summary.add(steps.store(settings, summary.run_id, discovery.failures))
        done = 0
        batches = plan_batches(discovery.inputs, settings.batch_size)
        for batch, prepared in prepared_ahead(steps.prepare, settings, batches):
            summary.add(steps.store(settings, summary.run_id, prepared))
            done += len(batch)
            context.progress(done, len(discovery.inputs))

    return run_recorded(
        "ingest_files",
        settings,
        body,
        begin=begin,
        finish=steps.finish,
        refresh=steps.refresh,
        arguments={"paths": list(arguments)},
        context=context,
        skipped=len(discovery.skipped),
    )


def ingest_paths(arguments: Sequence[str], settings: Settings, **options: Any) -> RunSummary:
    """Convenience for tests and scripts: the plain (no Prefect) file ingest."""
    return run_file_ingest(arguments, settings, **options)


__all__ = [
    "LOCAL_RUN",
    "PLAIN_STEPS",
    "IngestSteps",
    "RunContext",
    "chunks",
    "extract_document",
    "extract_documents",
    "ingest_paths",
    "prepare_documents",
    "prepare_file_batch",
    "run_file_ingest",
    "store_batch",
]
