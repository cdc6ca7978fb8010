"""Per-host politeness: how many requests a host gets at once and how far apart they start,
and the host name the gates (and the connection pools) key on."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from newsledger.tasks.fetch.guard import uts46_url


class HostGate:
    """Politeness towards one host: at most ``concurrency`` requests in flight, and request
    starts at least ``delay`` seconds apart (a start time is reserved before waiting for it),
    the first one ``delay`` after ``last_start`` (a ``clock`` time) when given."""

    def __init__(
        self,
        concurrency: int,
        delay: float,
        *,
        last_start: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._semaphore = asyncio.Semaphore(max(1, concurrency))
        self._delay = max(0.0, delay)
        self._clock = clock
        self._sleep = sleep
        self._next_start = -math.inf if last_start is None else last_start + self._delay

    @property
    def delay(self) -> float:
        return self._delay

    def widen(self, delay: float) -> None:
        """Space request starts at least ``delay`` apart from now on (never narrower), the
        next one included (e.g. a robots.txt ``Crawl-delay`` learnt after the first request)."""
        if delay > self._delay:
            self._next_start += delay - self._delay
            self._delay = delay

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the host's request slots, entered no earlier than the host's next turn."""
        async with self._semaphore:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self._delay
            if start > now:
                await self._sleep(start - now)
            yield


# --------------------------------------------------------------------------- pure helpers


def wire_host(url: httpx.URL) -> str:
    """The host as it goes on the wire (IDNA-encoded, IPv6 without brackets): the same
    string the connection pool hands to the network backend, so both share one DNS answer."""
    return url.raw_host.decode("ascii")


def host_of(url: str) -> str | None:
    """The host of a URL as the politeness gates key it (IDNA, IPv6 without brackets)."""
    try:
        return wire_host(httpx.URL(uts46_url(url)))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None
