"""Prefect tasks over the plain pipeline functions: one task per batch (never per article,
the API records at most ~100 task runs/s). Only flows import this module, so the CLI's
in-process fast path never pays for ``import prefect``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from newsledger.tasks import pipeline, store, web
from newsledger.tasks.feeds import FeedSpec
from newsledger.tasks.load import Discovery, FileInput
from newsledger.tasks.models import PreparedItem, StoredOutcome
from newsledger.tasks.settings import Settings
from prefect import task
from prefect.cache_policies import NO_CACHE


@task(name="discover-files", cache_policy=NO_CACHE)
def discover_files_task(arguments: Sequence[str], settings: Settings) -> Discovery:
    return pipeline.discover(arguments, settings)


@task(name="begin-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def begin_run_task(settings: Settings, run_id: str, flow: str, **options: Any) -> None:
    store.begin_run(settings, run_id, flow, **options)


@task(name="prepare-batch", cache_policy=NO_CACHE)
def prepare_file_batch_task(settings: Settings, batch: Sequence[FileInput]) -> list[PreparedItem]:
    return pipeline.prepare_file_batch(settings, batch)


# A failed write rolls back its whole transaction, so retrying the batch is safe.
@task(name="store-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store_batch_task(
    settings: Settings, run_id: str, prepared: Sequence[PreparedItem]
) -> list[StoredOutcome]:
    return pipeline.store_batch(settings, run_id, prepared)


@task(name="finish-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def finish_run_task(settings: Settings, run_id: str, **counts: Any) -> None:
    store.finish_run(settings, run_id, **counts)


FILE_INGEST_TASKS = pipeline.IngestSteps(
    discover=discover_files_task,
    begin=begin_run_task,
    prepare=prepare_file_batch_task,
    store=store_batch_task,
    finish=finish_run_task,
)


# --- web ----------------------------------------------------------------------------------------
# One task per batch of pages (fetching inside it is concurrent) and one for all feeds.


@task(name="poll-feeds", cache_policy=NO_CACHE)
def poll_feeds_task(settings: Settings, run_id: str, specs: Sequence[FeedSpec]) -> web.FeedPoll:
    return web.poll_feeds(settings, run_id, specs)


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_pages_task(settings: Settings, targets: Sequence[web.PageTarget]) -> web.PageBatch:
    return web.fetch_pages(settings, targets)


@task(name="store-pages", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store_pages_task(settings: Settings, run_id: str, batch: web.PageBatch) -> list[StoredOutcome]:
    return web.store_pages(settings, run_id, batch)


@task(name="store-failures", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store_failures_task(
    settings: Settings, run_id: str, prepared: Sequence[PreparedItem]
) -> list[StoredOutcome]:
    return pipeline.store_batch(settings, run_id, prepared)


@task(name="reprocess-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def reprocess_batch_task(
    settings: Settings, run_id: str, candidates: Sequence[tuple[str, str]]
) -> list[StoredOutcome]:
    return web.reprocess_batch(settings, run_id, candidates)


WEB_TASKS = web.WebSteps(
    begin=begin_run_task,
    finish=finish_run_task,
    fetch_pages=fetch_pages_task,
    store_pages=store_pages_task,
    store_failures=store_failures_task,
    poll_feeds=poll_feeds_task,
    reprocess_batch=reprocess_batch_task,
)
