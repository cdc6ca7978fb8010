"""What newsledger tells the outside world, as plain values: the Prefect events a stored batch
gives rise to, the event ``newsledger submit`` sends, and the report of a run.

Nothing here imports Prefect: the task wrappers in ``tasks/prefect_tasks.py`` emit these
specs after the plain store function has committed (the in-process fast path emits nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsledger.tasks.models import FailedInput, RunSummary, StoredOutcome
from newsledger.tasks.notify import (
    OUTLET_LABEL,
    REVISED_EVENT,
    outlet_label,
    search_resource,
    story_links,
    summary_text,
)

ARTICLE_CREATED = "newsledger.article.created"
ARTICLE_REVISED = REVISED_EVENT
FEED_POLLED = "newsledger.feed.polled"
INGEST_FAILED = "newsledger.ingest.failed"
URL_SUBMITTED = "newsledger.url.submitted"

MAX_REPORTED_FAILURES = 200


@dataclass(frozen=True)
class EventSpec:
    """One event to emit: its name, the resource it is about, a JSON payload, and related
    resources (beside the flow and task run Prefect attaches)."""

    event: str
    resource: dict[str, str]
    payload: dict[str, Any]
    related: tuple[dict[str, str], ...] = field(default=())


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def article_resource(
    article_id: str, title: str | None = None, outlet: str | None = None
) -> dict[str, str]:
    resource = {"prefect.resource.id": f"newsledger.article.{article_id}"}
    if title:
        resource["prefect.resource.name"] = title
    if outlet:
        resource[OUTLET_LABEL] = outlet_label(outlet)
    return resource


def article_payload(
    run_id: str, o: StoredOutcome, ledger: str | None, web_base_url: str | None
) -> dict[str, Any]:
    """The payload of a created/revised event: what was stored, and what a notification says
    (the first changed sentence, the previous headline, links to the web view)."""
    assert o.article_id is not None
    links = story_links(web_base_url, o.article_id, o.revision)
    return {
        "run_id": run_id,
        "article_id": o.article_id,
        "input": o.input,
        "url": o.url,
        "title": o.title,
        "revision": o.revision,
        "words_added": o.words_added,
        "words_removed": o.words_removed,
        "ledger": ledger,
        "outlet": o.outlet,
        "previous_title": o.previous_title,
        "first_change": o.first_change,
        "first_change_kind": o.first_change_kind,
        "observed_at": o.observed_at,
        "story_url": links.get("story_url"),
        "diff_url": links.get("diff_url"),
        "summary": summary_text(
            o.title,
            o.outlet,
            o.words_added,
            o.words_removed,
            o.first_change,
            o.first_change_kind,
            links.get("diff_url") or links.get("story_url") or o.url,
            o.previous_title,
            new=o.outcome == "new",
        ),
    }


def _failure(run_id: str, input_: str, stage: str, error: str, reason: str) -> EventSpec:
    return EventSpec(
        INGEST_FAILED,
        {
            "prefect.resource.id": f"newsledger.input.{_key(input_)}",
            "prefect.resource.name": input_,
        },
        {"run_id": run_id, "input": input_, "stage": stage, "error": error, "reason": reason},
    )


def outcome_events(
    run_id: str,
    outcomes: Iterable[StoredOutcome],
    *,
    ledger: str | None = None,
    web_base_url: str | None = None,
    searches: Mapping[str, Sequence[str]] | None = None,
) -> list[EventSpec]:
    """Events for the outcomes of a committed batch: one per new or revised article (created /
    revised) and one per failed input; unchanged inputs are silent. ``ledger`` (the database
    file) goes into article payloads, so a triggered follow-up writes to the same ledger;
    ``web_base_url`` gives them links to the web view; ``searches`` (article id → watched
    queries its revision matches: tasks/notify.py) adds one related resource per query."""
    specs: list[EventSpec] = []
    matched = searches or {}
    for o in outcomes:
        if o.outcome in ("new", "revised") and o.article_id:
            specs.append(
                EventSpec(
                    ARTICLE_CREATED if o.outcome == "new" else ARTICLE_REVISED,
                    article_resource(o.article_id, o.title, o.outlet),
                    article_payload(run_id, o, ledger, web_base_url),
                    tuple(search_resource(q) for q in matched.get(o.article_id, ())),
                )
            )
        elif o.outcome == "failed":
            specs.append(
                _failure(run_id, o.input, o.stage or "store", o.error or "error", o.message or "")
            )
    return specs


def feed_events(
    run_id: str, feed_reports: Sequence[Mapping[str, Any]], failures: Sequence[FailedInput]
) -> list[EventSpec]:
    """One ``feed.polled`` per feed (status, entries) and one ``ingest.failed`` per feed that
    could not be fetched or parsed (its failure is already recorded in the ledger)."""
    specs = [
        EventSpec(
            FEED_POLLED,
            {
                "prefect.resource.id": f"newsledger.feed.{_key(str(report['url']))}",
                "prefect.resource.name": str(report.get("feed") or report["url"]),
            },
            {
                "run_id": run_id,
                "feed": report.get("feed"),
                "url": report["url"],
                "status": report.get("status"),
                "entries": report.get("entries"),
                "reason": report.get("reason"),
            },
        )
        for report in feed_reports
    ]
    specs += [_failure(run_id, f.input, f.stage, f.error, f.message) for f in failures]
    return specs


def submitted_event(url: str) -> EventSpec:
    """The event ``newsledger submit`` sends for one URL (the ingest-urls trigger's input)."""
    return EventSpec(
        URL_SUBMITTED,
        {"prefect.resource.id": f"newsledger.url.{_key(url)}", "prefect.resource.name": url},
        {"url": url},
    )


# --- run reports --------------------------------------------------------------------------------

COUNTS = ("new", "revised", "unchanged", "failed", "skipped")


def report_line(flow: str, summary: RunSummary) -> str:
    """The one-line summary a flow run logs."""
    counts = ", ".join(f"{getattr(summary, name)} {name}" for name in COUNTS)
    return f"{flow}: {counts} (ledger run {summary.run_id})"


def report_table(summary: RunSummary) -> list[dict[str, Any]]:
    """Rows of a run's report: the count of each outcome, then each failed input with its
    stage and reason (the first ``MAX_REPORTED_FAILURES``)."""
    rows: list[dict[str, Any]] = [
        {"outcome": name, "count": getattr(summary, name), "input": "", "stage": "", "reason": ""}
        for name in COUNTS
    ]
    rows += [
        {
            "outcome": "failed input",
            "count": 1,
            "input": f.input,
            "stage": f.stage,
            "reason": f.message or f.error,
        }
        for f in summary.failures[:MAX_REPORTED_FAILURES]
    ]
    if len(summary.failures) > MAX_REPORTED_FAILURES:
        rows.append(
            {
                "outcome": "failed input",
                "count": len(summary.failures) - MAX_REPORTED_FAILURES,
                "input": "… more (see `newsledger failures`)",
                "stage": "",
                "reason": "",
            }
        )
    return rows
