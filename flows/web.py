"""Flows for web sources: poll feeds, revisit stories, ingest given URLs, re-extract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsledger.tasks import crawl
from newsledger.tasks.prefect_tasks import WEB_TASKS, flow_run_context, report
from newsledger.tasks.settings import Settings
from prefect import flow


def _settings(db: str | None) -> Settings:
    return Settings(db=db) if db else Settings()


def _run_options() -> dict[str, Any]:
    return {"steps": WEB_TASKS, "context": flow_run_context()}


@flow(name="poll-feeds", description="Poll RSS/Atom feeds and store every new story.")
def poll_feeds(
    feeds_file: str | None = None, all_feeds: bool = False, db: str | None = None
) -> dict[str, Any]:
    summary, poll = crawl.run_poll(
        Path(feeds_file) if feeds_file else None,
        _settings(db),
        everything=all_feeds,
        **_run_options(),
    )
    return report(summary, feeds=poll.feed_reports)


@flow(
    name="refresh-articles",
    description="Revisit known stories that are due; updates become new revisions.",
)
def refresh_articles(
    all_articles: bool = False, limit: int = 100_000, db: str | None = None
) -> dict[str, Any]:
    return report(
        crawl.run_refresh(_settings(db), everything=all_articles, limit=limit, **_run_options())
    )


@flow(name="ingest-urls", description="Fetch and store the given URLs.")
def ingest_urls(urls: list[str], db: str | None = None) -> dict[str, Any]:
    return report(crawl.run_url_ingest(urls, _settings(db), **_run_options()))


@flow(name="retry-failures", description="Fetch again every failing URL not given up.")
def retry_failures(db: str | None = None) -> dict[str, Any]:
    return report(crawl.run_retry(_settings(db), **_run_options()))


@flow(name="reprocess", description="Re-extract archived raw pages with the current extractor.")
def reprocess(all_pages: bool = False, db: str | None = None) -> dict[str, Any]:
    return report(crawl.run_reprocess(_settings(db), everything=all_pages, **_run_options()))
