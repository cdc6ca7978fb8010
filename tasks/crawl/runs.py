"""The five web runs as compositions of steps: ``run_url_ingest``, ``run_poll``,
``run_refresh``, ``run_retry`` and ``run_reprocess``. Each is recorded as a run (begin, body,
finish, search refresh) over :class:`WebSteps`: the plain functions (``PLAIN_WEB_STEPS``, the
CLI's in-process path) or the Prefect tasks of ``tasks/prefect_tasks.py``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsledger.tasks.crawl.models import FetchedBatch, PageBatch, PageTarget, targets_for_urls
from newsledger.tasks.crawl.pages import fetch_pages, fetch_stream, prepare_pages
from newsledger.tasks.crawl.policy import interleave_hosts
from newsledger.tasks.crawl.polling import FeedPoll, poll_feeds
from newsledger.tasks.crawl.records import reprocess_batch, store_pages
from newsledger.tasks.crawl.state import (
    due_targets,
    failing_targets,
    reprocess_candidates,
    with_validators,
)
from newsledger.tasks.extraction_pool import active_pool
from newsledger.tasks.feeds import FeedSpec, read_feed_list
from newsledger.tasks.models import FailedInput, PreparedItem, RunSummary, StoredOutcome
from newsledger.tasks.overlap import Handoff, run_stages
from newsledger.tasks.pipeline import (
    LOCAL_RUN,
    RunContext,
    chunks,
    refresh_search,
    run_recorded,
    store_batch,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import begin_run, finish_run


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
