"""Prefect tasks over the plain pipeline functions: one task per batch (never per article,
the API records at most ~100 task runs/s). Only flows (and ``newsledger serve`` / ``submit`` /
``setup-prefect``) import this module, so the CLI's in-process fast path never pays for
``import prefect``.

Three things happen here and nowhere else:

* **One writer at a time.** When a Prefect server is configured (``PREFECT_API_URL``), every
  task that writes the ledger holds the 1-slot global concurrency limit
  ``Settings.write_limit`` while it writes (created if missing, never skipped), and an OS
  file lock next to the ledger. The slot is leased (``Settings.write_lease_seconds``, at
  least 60 s, renewed while held); a slot left by a writer killed with ``kill -9`` is freed by
  the next writer (it holds the file lock, so the slot's holder is dead). Acquiring and
  releasing it are one API request each on one client (see ``_write_slot``), whose transport
  asks again 50 ms after a busy server's 503 (``BusyRetryTransport``). Without a server
  (a temporary one never reclaims leases) the DuckDB file-lock retry of ``tasks/store.py`` is
  what serialises writers, and it stays in place underneath the slot either way.
* **Events out.** After the plain store function has returned (its transaction committed),
  the task emits the events of ``tasks/events.py``; a batch that raised emits nothing.
* **Run reports.** ``report`` (used by every flow) logs a one-line summary through the run
  logger and publishes a table artifact.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from newsledger.tasks import crawl as web
from newsledger.tasks import exports, notify, pipeline, store
from newsledger.tasks.busy_retry import BusyRetryTransport
from newsledger.tasks.events import EventSpec, feed_events, outcome_events, report_line
from newsledger.tasks.events import report_table as _report_table
from newsledger.tasks.feeds import FeedSpec
from newsledger.tasks.load import Discovery, FileInput
from newsledger.tasks.models import LastObservation, PreparedItem, RunSummary, StoredOutcome
from newsledger.tasks.overlap import Handoff
from newsledger.tasks.settings import Settings
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.events import emit_event
from prefect.settings import get_current_settings

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

logger = logging.getLogger(__name__)

# --- one writer at a time -----------------------------------------------------------------------


def server_configured() -> bool:
    """True when this process talks to a real Prefect server (not a temporary one)."""
    return bool(get_current_settings().api.url)


def ensure_write_limit(name: str) -> bool:
    """Create the 1-slot global concurrency limit ``name`` unless it exists. True if created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
        except ObjectAlreadyExists:  # another writer created it a moment ago
            return False
        return True


@contextmanager
def ledger_write(settings: Settings) -> Iterator[None]:
    """Hold the ledger's write slot (when a Prefect server is configured) for the body."""
    if not server_configured():
        yield
        return
    from prefect.client.orchestration import get_client

    with (
        _writer_lock(settings),
        get_client(sync_client=True, httpx_settings=_slot_client_settings()) as client,
        _write_slot(client, settings, settings.write_limit),
    ):
        yield


def _slot_client_settings() -> dict[str, Any]:
    """httpx settings of the write slot's Prefect client: Prefect's own, with the transport
    made a :class:`BusyRetryTransport` (TLS verification as Prefect's client does it:
    ``PREFECT_API_TLS_INSECURE_SKIP_VERIFY``, ``PREFECT_API_SSL_CERT_FILE``)."""
    import ssl

    api = get_current_settings().api
    verify: ssl.SSLContext | bool = True  # httpx's default: certifi's bundle, as Prefect's
    if api.tls_insecure_skip_verify:
        verify = ssl.create_default_context()
        verify.check_hostname = False
        verify.verify_mode = ssl.CERT_NONE
    elif api.ssl_cert_file:
        verify = ssl.create_default_context(cafile=api.ssl_cert_file)
    inner = httpx.HTTPTransport(verify=verify, http2=api.enable_http2, retries=3)
    return {"transport": BusyRetryTransport(inner)}


def _writer_lock_path(settings: Settings) -> Path:
    db = settings.db.expanduser().resolve()
    return db.with_name(db.name + ".writer.lock")


@contextmanager
def _writer_lock(settings: Settings) -> Iterator[None]:
    """An OS file lock (flock) next to the ledger, waited for up to the slot timeout."""
    path = _writer_lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + settings.write_slot_timeout_seconds
    with path.open("a+b") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ConcurrencySlotAcquisitionError(
                        f"another writer held {path} for {settings.write_slot_timeout_seconds} s"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _free_stale_slot(client: SyncPrefectClient, name: str) -> None:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    limit = client.read_global_concurrency_limit_by_name(name)
    if limit.active_slots:
        logger.warning("write slot %s held by a dead writer: freed", name)
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))


@contextmanager
def _write_slot(client: SyncPrefectClient, settings: Settings, name: str) -> Iterator[None]:
    """The 1-slot limit ``name``, leased for ``write_lease_seconds`` (renewed while held),
    through one API client: acquiring and releasing it are one request each.

    Prefect's ``concurrency()`` helper does the same with a new client per call (a read,
    an acquisition, a release and the lease's stop: 0.3-1.1 s per write, measured, where
    these requests take 0.05 s). The caller holds the writer lock: a slot found taken belongs
    to a writer that died (``kill -9``) and would block everyone until its lease (at least
    60 s on the server) ran out, so it is freed at once; a missing limit is created."""
    lease = max(settings.write_lease_seconds, 60.0)
    deadline = time.monotonic() + settings.write_slot_timeout_seconds
    freed = created = False
    while True:
        try:
            response = client.increment_concurrency_slots_with_lease(
                names=[name], slots=1, mode="concurrency", lease_duration=lease
            )
        except httpx.HTTPStatusError as error:
            if error.response.status_code != 423:  # 423 Locked: the slot is taken
                raise ConcurrencySlotAcquisitionError(
                    f"cannot acquire the write slot {name!r}: {error}"
                ) from error
            if not freed:
                _free_stale_slot(client, name)
                freed = True
                continue
            if time.monotonic() > deadline:
                raise ConcurrencySlotAcquisitionError(
                    f"the write slot {name!r} stayed taken for "
                    f"{settings.write_slot_timeout_seconds} s"
                ) from None
            time.sleep(min(float(error.response.headers.get("Retry-After") or 1), 5.0))
            continue
        body = response.json()
        if body.get("limits"):
            break
        if created:  # deleted again as soon as made: let the task's retry start over
            raise ConcurrencySlotAcquisitionError(f"the write slot {name!r} does not exist")
        ensure_write_limit(name)
        created = True
    lease_id = UUID(body["lease_id"])
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew_lease, args=(lease_id, lease, stop), name="write-slot-lease", daemon=True
    )
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        try:
            client.release_concurrency_slots_with_lease(lease_id)
        except httpx.HTTPError as error:  # the write is committed: its lease runs out instead
            logger.warning("could not release the write slot %s: %s", name, error)


def _renew_lease(lease_id: UUID, lease: float, stop: threading.Event) -> None:
    """Renew the lease every third of its length until ``stop``; a failed renewal is logged,
    never fatal (a write must not die half-way: the writer lock still guards it)."""
    from prefect.client.orchestration import get_client

    while not stop.wait(lease / 3):
        try:
            with get_client(sync_client=True) as client:
                client.renew_concurrency_lease(lease_id, lease_duration=lease)
        except Exception as error:  # logged: the write goes on
            logger.warning("could not renew the write slot's lease: %s", error)


# --- events out ---------------------------------------------------------------------------------


def emit(specs: Iterable[EventSpec]) -> None:
    """Send events to the Prefect API (the flow/task run are attached as related resources)."""
    for spec in specs:
        emit_event(
            spec.event,
            resource=spec.resource,
            payload=spec.payload,
            related=[dict(r) for r in spec.related] or None,
        )


def _ledger(settings: Settings) -> str:
    return str(settings.db.expanduser().resolve())


def watched_searches(settings: Settings, outcomes: Sequence[StoredOutcome]) -> dict[str, list[str]]:
    """The search watches (tasks/notify.py) each revised story of a committed batch matches:
    the watched queries are read from the server's automations (one request, only for a
    batch with a revision), then matched against the stored revisions. A failure is logged
    and costs only the search watches' notifications, never the batch."""
    revised = [
        (o.article_id, o.revision)
        for o in outcomes
        if o.outcome == "revised" and o.article_id and o.revision
    ]
    if not revised or not server_configured():
        return {}
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            response = client.request("POST", "/automations/filter", json={"limit": 200})
        queries = notify.watched_queries(response.json())
        return notify.matching_searches(settings, revised, queries) if queries else {}
    except Exception as error:  # logged: the batch is stored, its other events still go out
        logger.warning("search watches not matched for this batch: %s", error)
        return {}


def _stored(settings: Settings, run_id: str, outcomes: list[StoredOutcome]) -> list[StoredOutcome]:
    emit(
        outcome_events(
            run_id,
            outcomes,
            ledger=_ledger(settings),
            web_base_url=settings.web_base_url,
            searches=watched_searches(settings, outcomes),
        )
    )
    return outcomes


# --- run reports --------------------------------------------------------------------------------


def publish_report(key: str, line: str, table: list[dict[str, Any]], description: str) -> None:
    """Log ``line`` through the run logger and publish ``table`` as the artifact ``key``."""
    get_run_logger().info(line)
    create_table_artifact(table, key=key, description=description)


def report(summary: RunSummary, **extra: Any) -> dict[str, Any]:
    """Report an ingest run (log line + table artifact) and return its summary as a dict."""
    line = report_line(summary.flow, summary)
    publish_report(summary.flow.replace("_", "-") + "-report", line, _report_table(summary), line)
    return {**summary.as_dict(), **extra}


def report_watch(result: web.WatchResult) -> dict[str, Any]:
    """Report a watch-article run (log line + table of the URLs it now watches)."""
    line = (
        f"watch-article: story {result.article_id} (revision {result.revision}): "
        f"{len(result.urls)} tracked URL(s) watched more closely"
    )
    urls = [{**u, "next_check_at": u["next_check_at"].isoformat()} for u in result.urls]
    publish_report("watch-article-report", line, urls, line)
    return {"article_id": result.article_id, "revision": result.revision, "urls": urls}


# --- runs ---------------------------------------------------------------------------------------


def flow_run_context() -> pipeline.RunContext:
    """The RunContext of a run made by the current Prefect flow run."""
    from prefect.runtime import flow_run

    return pipeline.RunContext("prefect", str(flow_run.id) if flow_run.id else None)


# --- file ingest --------------------------------------------------------------------------------


@task(name="discover-files", cache_policy=NO_CACHE)
def discover_files_task(arguments: Sequence[str], settings: Settings) -> Discovery:
    return pipeline.discover_inputs(arguments, settings)


@task(name="begin-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def begin_run_task(
    settings: Settings, run_id: str, flow: str, **options: Any
) -> dict[str, LastObservation]:
    with ledger_write(settings):
        return store.begin_run(settings, run_id, flow, **options)


@task(name="prepare-batch", cache_policy=NO_CACHE)
def prepare_file_batch_task(settings: Settings, batch: Sequence[FileInput]) -> list[PreparedItem]:
    return pipeline.prepare_file_batch(settings, batch)


# A failed write rolls back its whole transaction, so retrying the batch is safe.
@task(name="store-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store_batch_task(
    settings: Settings, run_id: str, prepared: Sequence[PreparedItem]
) -> list[StoredOutcome]:
    with ledger_write(settings):
        outcomes = pipeline.store_batch(settings, run_id, prepared)
    return _stored(settings, run_id, outcomes)


@task(name="finish-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def finish_run_task(settings: Settings, run_id: str, **counts: Any) -> None:
    with ledger_write(settings):
        store.finish_run(settings, run_id, **counts)


@task(name="refresh-search-index", cache_policy=NO_CACHE)
def refresh_search_task(settings: Settings) -> None:
    """The full-text index refresh at the end of a run, under the write slot like every other
    write. As in the plain step, a refresh that cannot happen now never fails the run that
    stored the revisions: the next refresh or search catches up."""
    try:
        with ledger_write(settings):
            pipeline.refresh_search(settings)
    except ConcurrencySlotAcquisitionError as error:
        get_run_logger().warning("the search index was not refreshed: %s", error)


@task(name="export-parquet", cache_policy=NO_CACHE)
def export_parquet_task(
    settings: Settings, output: str, partition_by: str, everything: bool
) -> dict[str, Any]:
    """One incremental partitioned export (tasks/exports.py) under the write slot: it writes
    the ledger twice (the export's record, then its marks) and reads it in between."""
    with ledger_write(settings):
        result = exports.export_partitioned(settings, output, partition_by, everything=everything)
    get_run_logger().info(
        "exported %d new revisions in %d files to %s (export %s)",
        result.revisions,
        result.files,
        result.target,
        result.export_id,
    )
    return {
        "export_id": result.export_id,
        "target": result.target,
        "partition_by": list(result.partition_by),
        "revisions": result.revisions,
        "files": result.files,
        "cleaned_files": result.cleaned_files,
    }


FILE_INGEST_TASKS = pipeline.IngestSteps(
    discover=discover_files_task,
    begin=begin_run_task,
    prepare=prepare_file_batch_task,
    store=store_batch_task,
    finish=finish_run_task,
    refresh=refresh_search_task,
)


# --- web ----------------------------------------------------------------------------------------
# One task for all feeds; then one fetch-stream task for the run's fetching and, per batch of
# pages, one extract-pages and one store-pages task (the three overlap: tasks/overlap.py). With
# pipeline_overlap off, one fetch-pages and one store-pages task per batch, one after the other.


@task(name="poll-feeds", cache_policy=NO_CACHE)
def poll_feeds_task(
    settings: Settings, run_id: str, specs: Sequence[FeedSpec], everything: bool = False
) -> web.FeedPoll:
    with ledger_write(settings):
        poll = web.poll_feeds(settings, run_id, specs, everything)
    emit(feed_events(run_id, poll.feed_reports, poll.failures))
    return poll


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_pages_task(settings: Settings, targets: Sequence[web.PageTarget]) -> web.PageBatch:
    return web.fetch_pages(settings, targets)


@task(name="fetch-stream", cache_policy=NO_CACHE)
def fetch_stream_task(
    settings: Settings, targets: Sequence[web.PageTarget], handoff: Handoff[web.FetchedBatch]
) -> None:
    """The fetch stage of the overlapped pipeline: one task for the run's fetching (in its
    helper thread), handing batches to the extract stage as they close."""
    web.fetch_stream(settings, targets, handoff)


@task(name="extract-pages", cache_policy=NO_CACHE)
def prepare_pages_task(settings: Settings, fetched: web.FetchedBatch) -> web.PageBatch:
    return web.prepare_pages(settings, fetched)


@task(name="store-pages", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store_pages_task(settings: Settings, run_id: str, batch: web.PageBatch) -> list[StoredOutcome]:
    with ledger_write(settings):
        outcomes = web.store_pages(settings, run_id, batch)
    return _stored(settings, run_id, outcomes)


@task(name="reprocess-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def reprocess_batch_task(
    settings: Settings, run_id: str, candidates: Sequence[tuple[str, str]]
) -> list[StoredOutcome]:
    with ledger_write(settings):
        outcomes = web.reprocess_batch(settings, run_id, candidates)
    return _stored(settings, run_id, outcomes)


WEB_TASKS = web.WebSteps(
    begin=begin_run_task,
    finish=finish_run_task,
    fetch_pages=fetch_pages_task,
    fetch_stream=fetch_stream_task,
    prepare_pages=prepare_pages_task,
    store_pages=store_pages_task,
    store_failures=store_batch_task,
    poll_feeds=poll_feeds_task,
    reprocess_batch=reprocess_batch_task,
    refresh=refresh_search_task,
)


# --- watching revised stories -------------------------------------------------------------------


@task(name="watch-article", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def watch_article_task(
    settings: Settings, article_id: str, revision: int | None = None
) -> web.WatchResult:
    with ledger_write(settings):
        return web.watch_article(settings, article_id, revision)
