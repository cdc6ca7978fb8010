"""Fetch web pages politely and safely with httpx (async).

Life cycle of one ``Fetcher.fetch(url)``:

1. **Retries** (``_fetch_with_retries``): the whole fetch is tried up to ``1 + max_retries``
   times. Timeouts, connection failures, 408, 429 and 5xx are retried after exponential backoff
   with full jitter, or after the server's ``Retry-After`` (both capped at
   ``backoff_max_seconds``). Every other failure is final.
2. **Redirects** (``_follow``): httpx never follows redirects; we do, for at most
   ``max_redirects`` hops. Before every hop (the first included):

   a. the SSRF guard (``AddressGuard``) checks the scheme and resolves the host once, refusing
      loopback / private / link-local / multicast / reserved / unspecified addresses unless
      ``allowed_hosts`` says otherwise. The connection is later opened to exactly those
      checked addresses (``GuardedTransport``), so a second DNS answer cannot rebind the host;
   b. robots.txt of the hop's origin is consulted (fetched once per Fetcher, then cached);
   c. a politeness slot is taken: at most ``per_host_concurrency`` requests in flight per host,
      request starts ``per_host_delay_seconds`` apart (or the origin's robots.txt
      ``Crawl-delay``, capped at ``max_crawl_delay_seconds``, when longer), also apart from the
      host's last request of an earlier Fetcher (``recent_requests``, e.g. a feed fetched just
      before its pages), ``global_concurrency`` overall.
3. **One exchange** (``_exchange``), inside a total deadline of ``total_timeout`` seconds
   (httpx alone has none): send the GET, judge the status, check the content type and the
   declared length, stream the raw bytes under ``max_response_bytes``, then decompress
   gzip / deflate / brotli ourselves under ``max_decompressed_bytes``.

The result is a ``FetchedPage`` (status 2xx, or 304 with an empty body) or one of the
``FetchError`` subclasses of ``newsledger.tasks.errors``; httpx exceptions never escape.

Choices worth knowing:

- robots.txt answering 4xx means "no rules": everything is allowed. A robots.txt that cannot
  be had (5xx, timeout, unreachable, too large) is also treated as "allow all"; the origin and
  the reason are logged and kept in ``Fetcher.robots_unavailable``.
- A response without a ``Content-Type`` header is accepted for every ``kind``.
- A body whose compression is corrupt or truncated is refused with ``ContentTypeError``.
- DNS answers are cached for the Fetcher's lifetime: keep one Fetcher per batch, not forever.
- A Fetcher belongs to one event loop.
"""

from newsledger.tasks.fetch.decoding import decode_body, parse_content_type
from newsledger.tasks.fetch.fetcher import (
    FetchedPage,
    Fetcher,
    FetchKind,
    FetchRequest,
    fetch_all,
)
from newsledger.tasks.fetch.guard import AddressGuard, Resolver, non_public_reason, redact_userinfo
from newsledger.tasks.fetch.politeness import HostGate, host_of
from newsledger.tasks.fetch.retries import backoff_delay, parse_retry_after
from newsledger.tasks.fetch.robots import RobotsCache, RobotsRecord, origin_of
from newsledger.tasks.fetch.transport import GuardedTransport

__all__ = [
    "AddressGuard",
    "FetchKind",
    "FetchRequest",
    "FetchedPage",
    "Fetcher",
    "GuardedTransport",
    "HostGate",
    "Resolver",
    "RobotsCache",
    "RobotsRecord",
    "backoff_delay",
    "decode_body",
    "fetch_all",
    "host_of",
    "non_public_reason",
    "origin_of",
    "parse_content_type",
    "parse_retry_after",
    "redact_userinfo",
]
