"""The crawl policy, plain and pure: when a story is visited again (``revisit_interval``),
how long a failing URL waits (``retry_delay``), which refusals are by policy and what policy
refused them (fingerprints compared with the current settings), and the order pages are
fetched in (round-robin over hosts)."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from newsledger.tasks.crawl.models import PageBatch, PageTarget
from newsledger.tasks.models import FailedInput
from newsledger.tasks.settings import Settings


def revisit_interval(
    now: datetime, last_change: datetime, settings: Settings, watch_factor: float = 1.0
) -> timedelta:
    """How long until a story is visited again: a fixed share of the time since it last
    changed (or appeared), kept between ``refresh_min_minutes`` and ``refresh_max_minutes``, so
    young or just-edited stories are watched closely and old ones rarely. That interval is then
    divided by ``watch_factor`` (at least 1: a story that keeps changing): a story watched ×4 is
    visited four times as often as another of its age, also right after a change (15 min / 4),
    which a bound applied after dividing would cancel."""
    age_minutes = max(0.0, (now - last_change).total_seconds() / 60)
    minutes = settings.refresh_age_factor * age_minutes
    minutes = min(max(minutes, settings.refresh_min_minutes), settings.refresh_max_minutes)
    return timedelta(minutes=minutes / max(watch_factor, 1.0))


def retry_delay(consecutive_failures: int, settings: Settings) -> timedelta | None:
    """Backoff after the n-th failure in a row; ``None`` when it is time to give up."""
    if consecutive_failures >= settings.max_failure_attempts:
        return None
    minutes = settings.retry_base_minutes * 2 ** max(0, consecutive_failures - 1)
    return timedelta(minutes=min(minutes, settings.refresh_max_minutes))


POLICY_ERRORS = frozenset({"blocked", "robots"})
"""Fetch error codes that are refusals by policy (SSRF guard, scheme, robots.txt), not
transient failures: recorded once, not retried until the policy changes."""


def policy_fingerprint(settings: Settings) -> str:
    """A short hash of the settings that decide what the fetcher refuses."""
    policy = [sorted(settings.allowed_hosts), settings.respect_robots, settings.full_user_agent]
    return hashlib.sha256(json.dumps(policy).encode()).hexdigest()[:16]


def refusal_fingerprint(settings: Settings, error: str, robots_body: str | None) -> str:
    """The policy that refused a URL; due_urls.sql computes the same string for the current
    policy (a robots.txt refusal adds the md5 of the origin's stored rules, ``-`` for none)."""
    policy = policy_fingerprint(settings)
    if error != "robots":
        return policy
    rules = hashlib.md5(robots_body.encode()).hexdigest() if robots_body is not None else "-"
    return f"{policy}:{rules}"


def policy_refusals(batch: PageBatch) -> list[FailedInput]:
    """The fetch failures of a batch that are refusals by policy (``POLICY_ERRORS``)."""
    return [
        item
        for item in batch.prepared
        if isinstance(item, FailedInput) and item.stage == "fetch" and item.error in POLICY_ERRORS
    ]


def interleave_hosts(targets: Sequence[PageTarget]) -> list[PageTarget]:
    """The targets taken round-robin over their hosts (order kept within a host), so that the
    pages fetched at any moment spread over as many hosts as they can: the fetch stage admits
    a bounded window of pages in this order (the serial path: one batch after the other), and
    a window of one outlet's pages would wait on that host's politeness limits alone."""
    queues: dict[str, list[PageTarget]] = {}
    for target in targets:
        queues.setdefault(urlsplit(target.url).hostname or "", []).append(target)
    rounds = itertools.zip_longest(*queues.values())
    return [target for round_ in rounds for target in round_ if target is not None]
