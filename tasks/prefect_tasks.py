"""Prefect tasks over the plain pipeline functions: one task per batch (never per article,
the API records at most ~100 task runs/s). Only flows import this module, so the CLI's
in-process fast path never pays for ``import prefect``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsledger.tasks import pipeline, store
from newsledger.tasks.load import Discovery, FileInput
from newsledger.tasks.models import PreparedItem, StoredOutcome
from newsledger.tasks.settings import Settings


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
