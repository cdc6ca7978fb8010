"""Watching revised stories: a revision raises the watch factor of the story's tracked URLs
and moves their next visit earlier (``watch_article``, run on a revision event)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from newsledger.tasks.crawl.policy import revisit_interval
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_writer, sql
from newsledger.tasks.values import json_default, utc_now


@dataclass(frozen=True)
class WatchResult:
    """What ``watch_article`` did: the story's revision and, per tracked URL, the new factor
    and next visit (empty when the story has no tracked URL, e.g. a local file)."""

    article_id: str
    revision: int | None
    urls: list[dict[str, Any]]


def watch_article(settings: Settings, article_id: str, revision: int | None = None) -> WatchResult:
    """Watch a revised story more closely: its watch factor becomes
    ``watch_factor_step ** (revision - 1)`` (capped at ``watch_factor_max``, never lowered) and
    its next visit moves earlier to match. Derived from the revision number rather than
    multiplied, so a retried or repeated call changes nothing more. A ledger file that does not
    exist (an event from another machine's ledger) is left alone, not created."""
    if not settings.db.exists():
        return WatchResult(article_id, revision, [])
    now = utc_now()
    with open_writer(settings) as conn:
        conn.execute("BEGIN TRANSACTION")
        rows = conn.execute(sql("watched_urls"), {"article_id": article_id}).fetchall()
        revision = revision or (rows[0][4] if rows else None) or 1
        target = min(settings.watch_factor_max, settings.watch_factor_step ** (revision - 1))
        changes = []
        for url, factor, next_check, since, _latest in rows:
            watch = max(factor, target)
            sooner = now + revisit_interval(now, since, settings, watch)
            changes.append(
                {"url": url, "watch_factor": watch, "next_check_at": min(next_check, sooner)}
            )
        if changes:
            conn.execute(sql("watch_urls"), {"rows": json.dumps(changes, default=json_default)})
        conn.execute("COMMIT")
    return WatchResult(article_id, revision, changes)
