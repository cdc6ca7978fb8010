"""robots.txt: the records kept per origin, the cache a Fetcher starts from, and how URLs and
User-Agents are keyed for it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import httpx

ROBOTS_MAX_BYTES = 512 * 1024  # Google reads the first 500 KiB; so do we


def robots_agent(user_agent: str) -> str:
    """The product token robots.txt rules are matched against ("newsledger")."""
    token = user_agent.split("/", 1)[0].split()
    return token[0] if token else user_agent


def url_origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


@dataclass(frozen=True)
class RobotsRecord:
    """robots.txt of one origin as fetched: ``body`` None means "allow all" (it answered 4xx).
    An origin whose robots.txt was unavailable (5xx, network) has no record: it is asked again.
    """

    origin: str
    status: int
    body: str | None
    fetched_at: datetime


class RobotsCache:
    """The robots.txt rules a Fetcher starts from (``known``, e.g. read from the ledger while
    fresh) and those it fetched (``fetched``, to be stored): one request per origin per day
    instead of one per origin per batch. RFC 9309 asks crawlers not to keep them longer than
    24 hours."""

    def __init__(self, known: Iterable[RobotsRecord] = ()) -> None:
        self.known: dict[str, RobotsRecord] = {record.origin: record for record in known}
        self.fetched: dict[str, RobotsRecord] = {}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL as the fetcher keys robots.txt, or None if invalid."""
    try:
        return url_origin(httpx.URL(url))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None
