"""Web ingestion as plain functions: poll feeds, fetch pages, revisit known stories, retry
failures, re-extract archived pages. Every URL ends stored, unchanged, or a recorded failure.

Each run (``run_poll``, ``run_url_ingest``, ``run_refresh``, ``run_retry``, ``run_reprocess``)
is one composition over :class:`WebSteps`; the Prefect flows pass task-wrapped steps. Crawl
state (validators for conditional GETs, the revisit schedule, failure backoff), the fetch log
and the raw archive are written in the same transaction as the revisions they explain.

One responsibility per module, each importing only those above it:

- ``models``: the values the steps hand each other (targets, fetch records, batches);
- ``policy``: revisit interval, retry backoff, refusal fingerprints, fetch order (pure);
- ``state``: reading crawl state (a read-only connection, or the writer's transaction);
- ``records``: writing crawl state with the pages it explains (``store_pages``);
- ``pages``: fetching and extracting pages (a batch, or streamed into the overlapped pipeline);
- ``polling``: polling feeds;
- ``runs``: the five runs and their steps (``WebSteps``, ``PLAIN_WEB_STEPS``);
- ``watch``: watching revised stories more closely.
"""

from newsledger.tasks.crawl.models import (
    FetchedBatch,
    FetchRecord,
    PageBatch,
    PageTarget,
    fetch_record,
    page_document,
    targets_for_urls,
)
from newsledger.tasks.crawl.pages import fetch_pages, fetch_stream, prepare_pages
from newsledger.tasks.crawl.policy import (
    POLICY_ERRORS,
    interleave_hosts,
    policy_fingerprint,
    refusal_fingerprint,
    retry_delay,
    revisit_interval,
)
from newsledger.tasks.crawl.polling import FeedPoll, feed_entry_row, feeds_due, poll_feeds
from newsledger.tasks.crawl.records import reprocess_batch, save_robots, store_pages
from newsledger.tasks.crawl.runs import (
    PLAIN_WEB_STEPS,
    WebSteps,
    run_poll,
    run_refresh,
    run_reprocess,
    run_retry,
    run_url_ingest,
)
from newsledger.tasks.crawl.state import (
    CrawlStart,
    FeedState,
    TrackedUrl,
    archived_body,
    due_targets,
    failing_targets,
    feed_state,
    known_robots,
    load_archived,
    read_crawl_start,
    recent_requests,
    reprocess_candidates,
    tracked_state,
    with_validators,
)
from newsledger.tasks.crawl.watch import WatchResult, watch_article

__all__ = [
    "PLAIN_WEB_STEPS",
    "POLICY_ERRORS",
    "CrawlStart",
    "FeedPoll",
    "FeedState",
    "FetchRecord",
    "FetchedBatch",
    "PageBatch",
    "PageTarget",
    "TrackedUrl",
    "WatchResult",
    "WebSteps",
    "archived_body",
    "due_targets",
    "failing_targets",
    "feed_entry_row",
    "feed_state",
    "feeds_due",
    "fetch_pages",
    "fetch_record",
    "fetch_stream",
    "interleave_hosts",
    "known_robots",
    "load_archived",
    "page_document",
    "policy_fingerprint",
    "poll_feeds",
    "prepare_pages",
    "read_crawl_start",
    "recent_requests",
    "refusal_fingerprint",
    "reprocess_batch",
    "reprocess_candidates",
    "retry_delay",
    "revisit_interval",
    "run_poll",
    "run_refresh",
    "run_reprocess",
    "run_retry",
    "run_url_ingest",
    "save_robots",
    "store_pages",
    "targets_for_urls",
    "tracked_state",
    "watch_article",
    "with_validators",
]
