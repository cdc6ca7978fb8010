"""The fetcher: one ``Fetcher.fetch(url)`` runs retries, redirects (guard, robots.txt and a
politeness slot before every hop) and one exchange under a total deadline; see the package
docstring (``tasks/fetch/__init__.py``) for the whole life cycle."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, get_args
from urllib.parse import urljoin

import httpx
from newsledger.tasks.archive import Exchange, WarcLocation, WarcWriter
from newsledger.tasks.errors import (
    BlockedURLError,
    ConnectionFailedError,
    ContentTypeError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    ResponseTooLargeError,
    RobotsDisallowedError,
    TooManyRedirectsError,
)
from newsledger.tasks.fetch.decoding import decode_body, parse_content_type
from newsledger.tasks.fetch.guard import AddressGuard, Resolver, redact_userinfo, uts46_url
from newsledger.tasks.fetch.politeness import HostGate, wire_host
from newsledger.tasks.fetch.retries import RetryLater, TimeBudget, backoff_delay, parse_retry_after
from newsledger.tasks.fetch.robots import (
    ROBOTS_MAX_BYTES,
    RobotsCache,
    RobotsRecord,
    robots_agent,
    url_origin,
)
from newsledger.tasks.fetch.transport import GuardedTransport, TappedStream, WireCapture
from newsledger.tasks.settings import Settings
from protego import Protego

log = logging.getLogger(__name__)

FetchKind = Literal["html", "feed", "robots", "any"]

ACCEPTED_TYPES: dict[str, frozenset[str] | None] = {
    "html": frozenset({"text/html", "application/xhtml+xml"}),
    "feed": frozenset(
        {
            "application/rss+xml",
            "application/atom+xml",
            "application/rdf+xml",
            "application/xml",
            "text/xml",
            "application/x-rss+xml",
            "application/x-atom+xml",
        }
    ),
    "robots": None,  # anything goes (text/plain is expected)
    "any": None,
}
ACCEPT_HEADERS: dict[str, str] = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/rdf+xml,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
    "any": "*/*",
}
ACCEPT_ENCODING = "gzip, deflate, br"  # only what decode_body understands
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchedPage:
    """One successful fetch: status 2xx with the decoded body, or 304 with ``body == b""``."""

    url: str
    """The URL that was asked for."""
    final_url: str
    """The URL that answered, after redirects."""
    status: int
    headers: dict[str, str]
    """Response headers, names lower-cased (repeated headers joined by ", ")."""
    body: bytes
    """The body after Content-Encoding was removed; never decoded to text."""
    fetched_at: datetime
    etag: str | None
    last_modified: str | None
    content_type: str | None
    """The mime type without parameters, lower-cased."""
    charset: str | None
    """The charset parameter of the Content-Type header (not sniffed from the body)."""
    attempts: int = 1
    elapsed_seconds: float = 0.0
    warc: tuple[WarcLocation, ...] = ()
    """Where this fetch's exchanges (retries and redirect hops, the last one answering) are
    in the WARC archive, in order; empty when archiving is off."""

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304 to a conditional request."""
        return self.status == 304


@dataclass(frozen=True)
class FetchRequest:
    """One URL for ``Fetcher.fetch_many`` / ``fetch_all``, with optional validators."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    kind: FetchKind = "html"


def _check_content_type(kind: str, content_type: str | None, url: httpx.URL) -> None:
    accepted = ACCEPTED_TYPES[kind]
    if accepted is not None and content_type is not None and content_type not in accepted:
        raise ContentTypeError(
            f"{url} is {content_type}, not {kind} ({', '.join(sorted(accepted))})"
        )


_DRAIN_MAX_BYTES = 64 * 1024


async def _drain(response: httpx.Response) -> None:
    """Read and drop the body of a response we do not use, up to 64 KiB, so that its
    connection goes back to the pool; a longer body is left unread (the connection closes)."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > _DRAIN_MAX_BYTES:
        return
    read = 0
    try:
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > _DRAIN_MAX_BYTES:
                return
    except FetchError:
        return  # the connection broke: nothing to keep


@dataclass(frozen=True)
class Hop:
    """One GET of a fetch: ``url`` (the URL asked now, a redirect's target after the first
    hop) on behalf of ``requested`` (the URL first asked), with its headers, the kind of
    fetch, and the URL's time budget."""

    url: httpx.URL
    requested: str
    headers: dict[str, str]
    kind: str
    budget: TimeBudget


class Fetcher:
    """Async fetcher with one shared httpx client; use as ``async with Fetcher(settings)``.

    ``resolver`` replaces the system DNS resolver and ``ssl_context`` the default certificate
    checks (certifi roots), e.g. to trust a private CA; both are seams for tests. Every DNS
    answer still goes through the SSRF guard. ``recent_requests`` gives the time of the last
    request to a host (as ``_host`` names it) made elsewhere, so the politeness delay also
    separates this Fetcher's first request from it.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        robots: RobotsCache | None = None,
        recent_requests: Mapping[str, datetime] | None = None,
    ) -> None:
        self._settings = settings or Settings()
        self._recent_requests = dict(recent_requests or {})
        self.robots_cache = robots or RobotsCache()
        self._ssl_context = ssl_context
        self._guard = AddressGuard(self._settings, resolver)
        self._client: httpx.AsyncClient | None = None
        self._global_slots = asyncio.Semaphore(max(1, self._settings.global_concurrency))
        self._gates: dict[str, HostGate] = {}
        self._robots: dict[str, Protego | None] = {}
        self._crawl_delays: dict[str, float] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self.robots_agent = robots_agent(self._settings.user_agent)
        self.robots_unavailable: dict[str, str] = {}
        """Origins whose robots.txt could not be read (treated as allow-all), with the reason."""
        self.archive: WarcWriter | None = (
            WarcWriter(
                self._settings.warc_folder,
                self._settings.warc_max_file_bytes,
                software=self._settings.user_agent,
            )
            if self._settings.warc_enabled
            else None
        )
        """The WARC writer every exchange goes to (None: ``warc_enabled`` is off)."""

    async def __aenter__(self) -> Fetcher:
        s = self._settings
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(
                self._guard,
                # the host gate admits per_host_concurrency requests at a time (robots.txt
                # included); one spare connection keeps a closing one from blocking a request
                max_connections=min(s.per_host_concurrency, s.global_concurrency) + 1,
                ssl_context=self._ssl_context,
                capture=self.archive is not None,
            ),
            headers={"User-Agent": s.full_user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(
                connect=s.connect_timeout,
                read=s.read_timeout,
                write=s.read_timeout,
                pool=s.total_timeout,
            ),
            follow_redirects=False,
            trust_env=False,  # no proxies or .netrc credentials from the environment
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.archive is not None:
            await asyncio.to_thread(self.archive.close)

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        kind: FetchKind = "html",
    ) -> FetchedPage:
        """Fetch ``url`` (conditionally when validators are given); raise a FetchError."""
        if self._client is None:
            raise RuntimeError("use the Fetcher as `async with Fetcher(settings) as fetcher:`")
        if kind not in ACCEPTED_TYPES:
            raise ValueError(f"kind must be one of {get_args(FetchKind)}, not {kind!r}")
        headers = {"Accept": ACCEPT_HEADERS[kind]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._fetch_with_retries(
            url, headers=headers, kind=kind, retries=self._settings.max_retries
        )

    async def fetch_request(self, request: FetchRequest) -> FetchedPage | FetchError:
        """Fetch one request; a failure comes back as a FetchError value, never raised (one
        URL must never stop the others)."""
        try:
            return await self.fetch(
                request.url,
                etag=request.etag,
                last_modified=request.last_modified,
                kind=request.kind,
            )
        except FetchError as exc:
            return exc
        except Exception as exc:
            log.exception("unexpected error fetching %s", redact_userinfo(request.url))
            error = FetchError(
                f"unexpected error fetching {redact_userinfo(request.url)}: {type(exc).__name__}",
                code="unexpected",
            )
            error.__cause__ = exc
            return error

    async def fetch_many(self, requests: Sequence[FetchRequest]) -> list[FetchedPage | FetchError]:
        """Fetch all ``requests`` concurrently (within the politeness limits); results come
        back in input order, failures as FetchError values."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.fetch_request(request)) for request in requests]
        return [task.result() for task in tasks]

    # -- step 1: retries ---------------------------------------------------------------------

    async def _fetch_with_retries(
        self, url: str, *, headers: dict[str, str], kind: str, retries: int
    ) -> FetchedPage:
        loop = asyncio.get_running_loop()
        started = loop.time()
        budget = TimeBudget(self._settings.url_budget_seconds, loop.time)
        archived: list[WarcLocation] = []
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                page = await self._follow(
                    url, headers=headers, kind=kind, budget=budget, archived=archived
                )
                return replace(
                    page,
                    attempts=attempt,
                    elapsed_seconds=loop.time() - started,
                    warc=tuple(archived),
                )
            except RetryLater as later:
                error: FetchError = later.error
                retry_after = later.retry_after
            except FetchError as exc:
                error = exc
            delay = backoff_delay(
                attempt,
                base=self._settings.backoff_base_seconds,
                cap=self._settings.backoff_max_seconds,
                retry_after=retry_after,
            )
            spent = error.retryable and attempt <= retries and budget.remaining() <= delay
            if not error.retryable or attempt > retries or spent:
                if spent:
                    error.add_note(
                        f"gave up after {attempt} attempt(s): the URL's time budget of "
                        f"{budget.seconds:g} s (url_budget_seconds) is spent"
                    )
                elif attempt > 1:
                    error.add_note(f"gave up after {attempt} attempts")
                error.warc = tuple(archived)
                raise error
            log.info("retrying %s in %.2fs after attempt %d: %s", url, delay, attempt, error)
            await asyncio.sleep(delay)

    # -- step 2: redirects, guard, robots, politeness ---------------------------------------

    async def _follow(
        self,
        url: str,
        *,
        headers: dict[str, str],
        kind: str,
        budget: TimeBudget,
        archived: list[WarcLocation],
    ) -> FetchedPage:
        current = self._guard.check_url(url)
        chain = [str(current)]
        for _hop in range(self._settings.max_redirects + 1):
            host = wire_host(current)
            try:
                await self._guard.addresses(host)  # resolve + check before any connection
            except BlockedURLError as exc:
                if len(chain) == 1:
                    raise
                raise BlockedURLError(f"{exc} (redirected from {chain[-2]})") from exc
            crawl_delay = 0.0
            if kind != "robots":
                await self._check_robots(current)
                crawl_delay = self._crawl_delays.get(url_origin(current), 0.0)
            async with self._slot(host, crawl_delay):
                outcome = await self._exchange(Hop(current, url, headers, kind, budget), archived)
            if isinstance(outcome, FetchedPage):
                return outcome
            current = self._guard.check_url(outcome)
            chain.append(str(current))
        raise TooManyRedirectsError(
            f"more than {self._settings.max_redirects} redirects: {' -> '.join(chain)}"
        )

    @asynccontextmanager
    async def _slot(self, host: str, crawl_delay: float = 0.0) -> AsyncIterator[None]:
        gate = self._gates.get(host)
        if gate is None:
            last = self._recent_requests.get(host)
            gate = self._gates[host] = HostGate(
                self._settings.per_host_concurrency,
                self._settings.per_host_delay_seconds,
                last_start=None
                if last is None
                else time.monotonic() - max(0.0, (datetime.now(UTC) - last).total_seconds()),
            )
        gate.widen(crawl_delay)
        async with gate.slot(), self._global_slots:
            yield

    async def _check_robots(self, url: httpx.URL) -> None:
        if not self._settings.respect_robots:
            return
        rules = await self._robots_for(url_origin(url))
        if rules is not None and not rules.can_fetch(str(url), self.robots_agent):
            raise RobotsDisallowedError(f"robots.txt of {url_origin(url)} disallows {url}")

    async def _robots_for(self, origin: str) -> Protego | None:
        async with self._robots_locks.setdefault(origin, asyncio.Lock()):
            if origin not in self._robots:
                record = self.robots_cache.known.get(origin)
                if record is None:
                    record = await self._load_robots(origin)
                    if record is not None:
                        self.robots_cache.fetched[origin] = record
                rules = Protego.parse(record.body) if record is not None and record.body else None
                self._robots[origin] = rules
                delay = rules.crawl_delay(self.robots_agent) if rules is not None else None
                if delay:
                    self._crawl_delays[origin] = min(
                        float(delay), self._settings.max_crawl_delay_seconds
                    )
            return self._robots[origin]

    async def _load_robots(self, origin: str) -> RobotsRecord | None:
        """robots.txt of ``origin`` (body None: a 4xx, "allow all"), or None when it is
        unavailable (allow all for now, ask again next time)."""
        try:
            page = await self._fetch_with_retries(
                f"{origin}/robots.txt",
                headers={"Accept": ACCEPT_HEADERS["robots"]},
                kind="robots",
                retries=0,
            )
        except HTTPStatusError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                # no robots.txt: everything is allowed
                return RobotsRecord(origin, exc.status, None, datetime.now(UTC))
            self._note_robots_unavailable(origin, exc)
        except FetchError as exc:
            self._note_robots_unavailable(origin, exc)
        else:
            text = page.body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            return RobotsRecord(origin, page.status, text, page.fetched_at)
        return None

    def _note_robots_unavailable(self, origin: str, error: FetchError) -> None:
        log.warning("robots.txt of %s unavailable, allowing all: %s", origin, error)
        self.robots_unavailable[origin] = str(error)

    # -- step 3: one HTTP exchange -----------------------------------------------------------

    async def _exchange(self, hop: Hop, archived: list[WarcLocation]) -> FetchedPage | httpx.URL:
        """One GET under the total deadline (or what is left of the URL's time budget, when
        less): a page, or the next URL of a redirect. With the archive on, the exchange's
        bytes go to the WARC writer once the connection is given back, whatever
        the outcome, as long as a response began."""
        captured: list[tuple[httpx.Response, WireCapture]] = []
        truncated: str | None = None  # the response read to its end, or left unread
        try:
            outcome = await self._exchange_once(hop, captured)
            return outcome
        except FetchTimeoutError:
            truncated = "time"
            raise
        except ResponseTooLargeError:
            truncated = "length"
            raise
        except ConnectionFailedError:
            truncated = "disconnect"
            raise
        finally:
            if captured and self.archive is not None:
                location = await self._archive_exchange(
                    *captured[0], requested=hop.requested, kind=hop.kind, truncated=truncated
                )
                if location is not None:
                    archived.append(location)

    async def _archive_exchange(
        self,
        response: httpx.Response,
        capture: WireCapture,
        *,
        requested: str,
        kind: str,
        truncated: str | None,
    ) -> WarcLocation | None:
        """Write one captured exchange to the archive; a failure to write is logged, never the
        fetch's failure (the fetch row then has no WARC location)."""
        assert self.archive is not None
        if truncated is None and not response.is_stream_consumed:
            truncated = "unspecified"  # a body not wanted (e.g. a long error page) left unread
        exchange = Exchange(
            target_uri=str(response.url),
            requested_uri=requested,
            kind=kind,
            started=capture.started,
            ip_address=capture.ip_address,
            request=bytes(capture.sent),
            response=bytes(capture.received),
            truncated=truncated,
        )
        try:
            # In the loop, not on a thread: a record costs ~0.25 ms of CPU (build, digests,
            # gzip of an 8 KB page), less than a thread hop that waits for the GIL behind the
            # busy loop (up to its 5 ms switch interval; bench_web measured that as slower).
            return self.archive.write(exchange)
        except Exception:
            log.exception("could not archive the exchange of %s", redact_userinfo(requested))
            return None

    async def _exchange_once(
        self, hop: Hop, captured: list[tuple[httpx.Response, WireCapture]]
    ) -> FetchedPage | httpx.URL:
        assert self._client is not None  # checked in fetch()
        url, budget = hop.url, hop.budget
        budget.start()  # the budget runs from the URL's first request on
        total = min(self._settings.total_timeout, max(0.0, budget.remaining()))
        try:
            async with asyncio.timeout(total):
                async with self._client.stream("GET", url, headers=hop.headers) as response:
                    stream = response.extensions.get("network_stream")
                    if isinstance(stream, TappedStream):
                        # taken now, while the connection is ours: the exchange's own capture
                        captured.append((response, stream.capture))
                    return await self._read_response(
                        response, requested=hop.requested, kind=hop.kind
                    )
        except TimeoutError as exc:
            limit = f"{total:g} s" + (
                "" if total >= self._settings.total_timeout else " (the rest of its time budget)"
            )
            raise FetchTimeoutError(
                f"{url} did not answer completely within {limit}", retryable=True
            ) from exc
        except httpx.InvalidURL as exc:
            # httpx builds the next request of a redirect even when not following it, and
            # raises on a Location such as ``http:x``: the redirect target is unusable
            raise BlockedURLError(f"{url} redirected to an invalid URL ({exc})") from exc
        except httpx.HTTPError as exc:  # the transport translates its own errors; this is a net
            raise ConnectionFailedError(f"fetching {url} failed: {exc!r}", retryable=True) from exc

    async def _read_response(
        self, response: httpx.Response, *, requested: str, kind: str
    ) -> FetchedPage | httpx.URL:
        url, status = response.url, response.status_code
        if not 200 <= status <= 299:
            # Read what is left of a short body (none after a 304): a response closed unread
            # closes its connection, and the next request to the host pays a new handshake.
            await _drain(response)
        if status == 304:
            return self._page(response, requested=requested, body=b"")
        if status in REDIRECT_STATUSES and response.headers.get("location"):
            location = response.headers["location"]
            try:
                try:
                    return url.join(location)
                except httpx.InvalidURL:  # e.g. a non-ASCII host only UTS-46 maps
                    return httpx.URL(uts46_url(urljoin(str(url), location)))
            except (httpx.InvalidURL, TypeError, ValueError, UnicodeError) as exc:
                raise BlockedURLError(
                    f"{url} redirected to {redact_userinfo(location)!r}, not a valid URL"
                ) from exc
        if status in (408, 429) or 500 <= status <= 599:
            error = HTTPStatusError(
                f"{url} answered {status} {response.reason_phrase}".rstrip(),
                code=f"http_{status}",
                status=status,
                retryable=True,
            )
            raise RetryLater(error, parse_retry_after(response.headers.get("retry-after")))
        if not 200 <= status <= 299:
            raise HTTPStatusError(
                f"{url} answered {status} {response.reason_phrase}".rstrip(),
                code=f"http_{status}",
                status=status,
            )
        content_type, _ = parse_content_type(response.headers.get("content-type"))
        _check_content_type(kind, content_type, url)
        raw = await self._read_raw(response)
        body = decode_body(
            raw,
            response.headers.get("content-encoding"),
            self._settings.max_decompressed_bytes,
            str(url),
        )
        return self._page(response, requested=requested, body=body)

    async def _read_raw(self, response: httpx.Response) -> bytes:
        """The raw (still compressed) body, refused early or mid-stream above the cap."""
        limit = self._settings.max_response_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLargeError(
                f"{response.url} declares {declared} bytes, more than the {limit} allowed"
            )
        raw = bytearray()
        async for chunk in response.aiter_raw():
            raw += chunk
            if len(raw) > limit:
                raise ResponseTooLargeError(f"{response.url} sent more than {limit} bytes")
        return bytes(raw)

    def _page(self, response: httpx.Response, *, requested: str, body: bytes) -> FetchedPage:
        headers = {name.lower(): value for name, value in response.headers.items()}
        content_type, charset = parse_content_type(headers.get("content-type"))
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        if response.status_code == 304:  # a 304 need not repeat the validators we sent
            etag = etag or response.request.headers.get("if-none-match")
            last_modified = last_modified or response.request.headers.get("if-modified-since")
        return FetchedPage(
            url=requested,
            final_url=str(response.url),
            status=response.status_code,
            headers=headers,
            body=body,
            fetched_at=datetime.now(UTC),
            etag=etag,
            last_modified=last_modified,
            content_type=content_type,
            charset=charset,
        )


def fetch_all(
    settings: Settings,
    requests: Sequence[FetchRequest],
    robots: RobotsCache | None = None,
    recent_requests: Mapping[str, datetime] | None = None,
) -> list[FetchedPage | FetchError]:
    """Synchronous convenience: fetch ``requests`` with one Fetcher inside ``asyncio.run``
    (robots.txt rules from and into ``robots``; ``recent_requests`` as for ``Fetcher``). Not
    callable from inside a running event loop; use ``Fetcher.fetch_many`` there."""

    async def run() -> list[FetchedPage | FetchError]:
        async with Fetcher(settings, robots=robots, recent_requests=recent_requests) as fetcher:
            return await fetcher.fetch_many(requests)

    return asyncio.run(run())
