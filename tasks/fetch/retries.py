"""Retries: which failures are tried again, and how long to wait before the next attempt."""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsledger.tasks.errors import HTTPStatusError


class RetryLater(Exception):
    """Internal: a retryable status, carrying the server's Retry-After (seconds) if any."""

    def __init__(self, error: HTTPStatusError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value (delay-seconds or an HTTP date)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): the server's Retry-After if given,
    else full jitter over ``base * 2**(attempt-1)``; both capped at ``cap``."""
    if retry_after is not None:
        return min(max(0.0, retry_after), cap)
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    return rng() * ceiling


@dataclass
class TimeBudget:
    """The total time one URL may take across its attempts (``url_budget_seconds``), from its
    first request on: each attempt's deadline is at most what is left of it, and no retry is
    started once the backoff alone would use it up. Waiting for the host's first turn (the
    politeness gate) does not count, so the pages queued behind a slow host's still get their
    try; the slow host delays only its own pages."""

    seconds: float
    clock: Callable[[], float]
    _started: float | None = field(default=None, init=False)

    def start(self) -> None:
        """Start the budget (the first call only)."""
        if self._started is None:
            self._started = self.clock()

    def remaining(self) -> float:
        """Seconds left (all of them before the start)."""
        if self._started is None:
            return self.seconds
        return self.seconds - (self.clock() - self._started)
