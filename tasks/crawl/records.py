"""Writing crawl state: the fetch log and raw archive, robots.txt rules, the tracked URLs
(validators, the next visit, failure backoff, canonical aliases, refusals), all in the
transaction that stores the pages they explain (``store_pages``); and the store step of
re-extracted archived pages (``reprocess_batch``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import duckdb
from newsledger.tasks.archive import warc_columns
from newsledger.tasks.crawl.models import FetchRecord, PageBatch, page_document
from newsledger.tasks.crawl.policy import policy_refusals, retry_delay, revisit_interval
from newsledger.tasks.crawl.state import (
    archived_body,
    load_archived,
    open_crawl_reader,
    refusal_fingerprints,
    repeated_refusals,
    tracked_state,
)
from newsledger.tasks.fetch import RobotsRecord
from newsledger.tasks.models import FailedInput, SourceDocument, StoredOutcome
from newsledger.tasks.pipeline import prepare_documents, store_batch
from newsledger.tasks.revisions import canonical_alias
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import sql
from newsledger.tasks.values import json_default, utc_now


def save_robots(conn: duckdb.DuckDBPyConnection, records: Iterable[RobotsRecord]) -> None:
    rows = [
        {"origin": r.origin, "status": r.status, "body": r.body, "fetched_at": r.fetched_at}
        for r in records
    ]
    if rows:
        conn.execute(sql("upsert_robots"), {"rows": json.dumps(rows, default=json_default)})


def insert_fetches(
    conn: duckdb.DuckDBPyConnection, run_id: str, fetches: Sequence[FetchRecord]
) -> None:
    bodies = {f.raw_hash: f for f in fetches if f.raw_hash and f.compressed is not None}
    if bodies:
        conn.execute(
            sql("insert_raw_pages"),
            {
                "hashes": list(bodies),
                "bodies": [f.compressed for f in bodies.values()],
                "sizes": [f.size for f in bodies.values()],
                "compressed_sizes": [len(f.compressed or b"") for f in bodies.values()],
                "now": utc_now(),
            },
        )
    if fetches:
        rows = [
            {
                "run_id": run_id,
                "url": f.url,
                "final_url": f.final_url,
                "purpose": f.purpose,
                "fetched_at": f.fetched_at,
                "status": f.status,
                "raw_hash": f.raw_hash,
                "headers": f.headers,
                "etag": f.etag,
                "last_modified": f.last_modified,
                "content_type": f.content_type,
                "attempts": f.attempts,
                "error": f.error,
                **warc_columns(f.warc),
            }
            for f in fetches
        ]
        conn.execute(sql("insert_fetches"), {"rows": json.dumps(rows, default=json_default)})


def _update_tracked(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    batch: PageBatch,
    outcomes: Sequence[StoredOutcome],
) -> None:
    now = utc_now()
    by_input = {o.input: o for o in outcomes}
    fetch_of = {f.url: f for f in batch.fetches}
    # A page naming another canonical URL (same site) is an alias: the canonical URL is
    # tracked and revisited instead, so two variants of a story never take turns as revisions.
    # Only while the canonical URL answers: while it fails (a 404, a refusal), due_urls.sql
    # and watched_urls.sql visit the page that worked instead; one never asked yet is tried
    # first, at the next visit.
    canonical_of = {
        item.document.identity: canonical
        for item in batch.prepared
        if not isinstance(item, FailedInput) and (canonical := canonical_alias(item))
    }
    urls = [t.url for t in batch.targets] + list(canonical_of.values())
    state = tracked_state(conn, urls)
    batch_urls = {t.url for t in batch.targets}
    added: set[str] = set()  # canonical URLs this batch starts tracking
    refused = refusal_fingerprints(conn, settings, policy_refusals(batch))
    rows: list[dict[str, Any]] = []
    for target in batch.targets:
        old = state.get(target.url)
        outcome = by_input.get(target.url)
        fetch = fetch_of.get(target.url)
        discovered = old.discovered_at if old else now
        watch = old.watch_factor if old else 1.0
        last_changed = old.last_changed_at if old else None
        failures = old.consecutive_failures if old else 0
        row: dict[str, Any] = {
            "url": target.url,
            "article_id": (old.article_id if old else None),
            "feed_url": target.feed_url or (old.feed_url if old else None),
            "discovered_at": discovered,
            "etag": old.etag if old else None,
            "last_modified": old.last_modified if old else None,
            "last_status": fetch.status if fetch else None,
            "last_fetched_at": now,
            "last_changed_at": last_changed,
            "watch_factor": watch,
            "consecutive_failures": 0,
            "last_error": None,
            "gave_up": False,
            "alias_of": old.alias_of if old else None,
            "refused_policy": None,
        }
        if target.url in refused and outcome is not None:
            # refused by policy: not a failure to back off from, but a state that lasts until
            # the policy changes (due_urls.sql and failing_urls.sql leave it alone until then)
            row.update(
                last_error=outcome.message,
                refused_policy=refused[target.url],
                next_check_at=now,
            )
        elif outcome is None or outcome.outcome == "failed":
            failures += 1
            delay = retry_delay(failures, settings)
            row.update(
                consecutive_failures=failures,
                last_error=outcome.message if outcome else "not stored",
                gave_up=delay is None,
                next_check_at=now + (delay or timedelta(0)),
            )
        else:
            if outcome.outcome in ("new", "revised"):
                last_changed = now
            row.update(
                article_id=outcome.article_id,
                last_changed_at=last_changed,
                next_check_at=now
                + revisit_interval(now, last_changed or discovered, settings, watch),
            )
            if fetch is not None and fetch.status == 200:
                row.update(etag=fetch.etag, last_modified=fetch.last_modified)
            canonical = canonical_of.get(target.url)
            if canonical:
                row["alias_of"] = canonical
                if canonical not in state and canonical not in batch_urls | added:
                    added.add(canonical)  # track it once
                    rows.append(
                        {
                            "url": canonical,
                            "article_id": outcome.article_id,
                            "feed_url": row["feed_url"],
                            "discovered_at": now,
                            "etag": None,
                            "last_modified": None,
                            "last_status": None,
                            "last_fetched_at": None,
                            "last_changed_at": None,
                            "next_check_at": now,
                            "watch_factor": 1.0,
                            "consecutive_failures": 0,
                            "last_error": None,
                            "gave_up": False,
                            "alias_of": None,
                            "refused_policy": None,
                        }
                    )
        rows.append(row)
    if rows:
        conn.execute(sql("upsert_tracked"), {"rows": json.dumps(rows, default=json_default)})


def store_pages(settings: Settings, run_id: str, batch: PageBatch) -> list[StoredOutcome]:
    """Store a page batch, its fetch log, raw bodies and crawl state in one transaction.

    A URL refused again by an unchanged policy is skipped: no second failure is recorded."""
    repeated = repeated_refusals(settings, batch)
    skipped = [
        StoredOutcome(
            "skipped", item.input, None, message=item.message, stage=item.stage, error=item.error
        )
        for item in batch.prepared
        if isinstance(item, FailedInput) and item.input in repeated
    ]
    prepared = [
        item
        for item in batch.prepared
        if not (isinstance(item, FailedInput) and item.input in repeated)
    ]

    def record_crawl(conn: duckdb.DuckDBPyConnection, outcomes: list[StoredOutcome]) -> None:
        insert_fetches(conn, run_id, batch.fetches)
        save_robots(conn, batch.robots)
        _update_tracked(conn, settings, batch, [*outcomes, *skipped])

    return [
        *store_batch(
            settings,
            run_id,
            prepared,
            before_commit=record_crawl,
            reload=lambda d: load_archived(settings, d),
        ),
        *skipped,
    ]


def reprocess_batch(
    settings: Settings, run_id: str, candidates: Sequence[tuple[str, str]]
) -> list[StoredOutcome]:
    """Re-extract archived raw pages with the current extractor and store the results: a new
    revision only where the extracted content really changes."""
    documents: list[SourceDocument] = []
    with open_crawl_reader(settings) as conn:
        for identity, raw_hash in candidates:
            documents.append(
                page_document(identity, archived_body(conn, raw_hash), raw_hash, url=identity)
            )
    return store_batch(
        settings, run_id, prepare_documents(documents, known={}, mode=settings.extraction_mode)
    )
