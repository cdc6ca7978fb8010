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

from __future__ import annotations

import asyncio
import email.utils
import functools
import ipaddress
import logging
import math
import random
import re
import socket
import ssl
import time
import zlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, get_args
from urllib.parse import urljoin, urlsplit, urlunsplit

import brotli
import httpcore
import httpx
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
from newsledger.tasks.settings import Settings
from newsledger.tasks.urls import idna_host
from protego import Protego

__all__ = [
    "AddressGuard",
    "FetchKind",
    "FetchRequest",
    "FetchedPage",
    "Fetcher",
    "GuardedTransport",
    "HostGate",
    "Resolver",
    "backoff_delay",
    "decode_body",
    "fetch_all",
    "host_of",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

FetchKind = Literal["html", "feed", "robots", "any"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[Sequence[str]]]
"""Turns a host name into address strings (default: the system resolver via getaddrinfo)."""

_ACCEPTED_TYPES: dict[str, frozenset[str] | None] = {
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
_ACCEPT_HEADERS: dict[str, str] = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/rdf+xml,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
    "any": "*/*",
}
_ACCEPT_ENCODING = "gzip, deflate, br"  # only what decode_body understands
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ROBOTS_MAX_BYTES = 512 * 1024  # Google reads the first 500 KiB; so do we
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


# --------------------------------------------------------------------------- results


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


class _RetryLater(Exception):
    """Internal: a retryable status, carrying the server's Retry-After (seconds) if any."""

    def __init__(self, error: HTTPStatusError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


# --------------------------------------------------------------------------- SSRF guard


async def _system_resolve(host: str) -> list[str]:
    """Resolve ``host`` with the system resolver (``getaddrinfo``), in the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_USERINFO = re.compile(r"(//)[^/?#@]*@")


def redact_userinfo(text: str) -> str:
    """``text`` with the user info of any URL in it (``//user:pw@``) removed."""
    return _USERINFO.sub(r"\1", text)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv6 one (mapped, NAT64, 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched ("loopback", "private", ...), or None if public."""
    for candidate in (_embedded_ipv4(address), address):
        if candidate is None:
            continue
        for attribute in (
            "is_unspecified",
            "is_loopback",
            "is_link_local",
            "is_multicast",
            "is_private",
            "is_reserved",
        ):
            if getattr(candidate, attribute):
                return attribute.removeprefix("is_").replace("_", "-")
        if not candidate.is_global:
            return "non-global"
    return None


def _address_literal(host: str) -> IPAddress | None:
    """The address a host that is an IP literal stands for, or None for a name. Read as the
    system resolver reads it: a trailing dot allowed (``127.0.0.1.``), and IPv4 in the
    shorthand ``inet_aton`` accepts (``127.1``, ``0x7f.1``, ``2130706433``), so such hosts are
    judged by the address, never sent to DNS as names that "cannot be resolved"."""
    name = host.removesuffix(".") if host.count(".") else host
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if not name or not all(part and part.isalnum() for part in name.split(".")):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


class AddressGuard:
    """The SSRF guard: checks URLs and resolves each host once to addresses we may connect to.

    ``check_url`` validates the syntax (http/https with a host); ``addresses`` resolves the
    host (once per guard; concurrent callers share the lookup) and raises ``BlockedURLError``
    if any address is not public, unless the host name is in ``settings.allowed_names()`` or
    the address lies in ``settings.allowed_networks()``. ``GuardedTransport`` connects only to
    the addresses returned here.
    """

    def __init__(self, settings: Settings, resolver: Resolver | None = None) -> None:
        self._allowed_names = {name.rstrip(".") for name in settings.allowed_names()}
        self._allowed_networks = settings.allowed_networks()
        self._resolver = resolver or _system_resolve
        self._cache: dict[str, tuple[IPAddress, ...]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """Parse ``url`` and refuse anything that is not http(s) with a host name."""
        shown = redact_userinfo(str(url))
        try:
            parsed = httpx.URL(_uts46_url(url) if isinstance(url, str) else url)
        except (httpx.InvalidURL, TypeError, ValueError, UnicodeError) as exc:
            raise BlockedURLError(f"refused {shown!r}: not a valid URL") from exc
        if parsed.scheme not in ("http", "https"):
            raise BlockedURLError(f"refused {shown}: only http and https URLs are fetched")
        if not parsed.host:
            raise BlockedURLError(f"refused {shown}: the URL has no host")
        if parsed.userinfo:
            # credentials would be sent as Basic auth and end up in the ledger: never
            raise BlockedURLError(f"refused {shown}: URLs with user credentials are not fetched")
        return parsed

    async def addresses(self, host: str) -> tuple[IPAddress, ...]:
        """The checked addresses of ``host``, resolved on first use and then remembered."""
        key = host.lower()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._cache:
                self._cache[key] = self._check(key, await self._resolve(key))
            return self._cache[key]

    async def _resolve(self, host: str) -> tuple[IPAddress, ...]:
        literal = _address_literal(host)
        if literal is not None:
            return (literal,)  # a literal address needs no lookup
        try:
            answers = await self._resolver(host)
        except (OSError, UnicodeError) as exc:
            temporary = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN
            raise ConnectionFailedError(
                f"cannot resolve host {host!r}: {exc}", retryable=temporary
            ) from exc
        addresses: dict[IPAddress, None] = {}
        for answer in answers:
            addresses[ipaddress.ip_address(answer)] = None
        if not addresses:
            raise ConnectionFailedError(f"host {host!r} has no addresses")
        return tuple(addresses)

    def _check(self, host: str, addresses: tuple[IPAddress, ...]) -> tuple[IPAddress, ...]:
        if host.rstrip(".") in self._allowed_names:
            return addresses
        for address in addresses:
            reason = non_public_reason(address)
            if reason is not None and not self._is_allowed(address):
                raise BlockedURLError(
                    f"refused host {host!r}: it resolves to {address}, a {reason} address "
                    "(add it to allowed_hosts to fetch it anyway)"
                )
        return addresses

    def _is_allowed(self, address: IPAddress) -> bool:
        candidates = [address, _embedded_ipv4(address)]
        return any(
            candidate is not None and candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self._allowed_networks
        )


def _uts46_url(url: str) -> str:
    """``url`` with a non-ASCII host name in its UTS-46 ASCII form, the one ``normalize_url``
    gives (httpx alone uses IDNA 2008 without the UTS-46 mapping and refuses e.g. full-width
    letters). Anything unparseable is returned as it is, for httpx to refuse."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return url
    if host is None or host.isascii():
        return url
    encoded = idna_host(host.rstrip("."))
    if encoded is None:
        return url
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{encoded}" + (f":{port}" if port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard has checked."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable checked address of ``host`` (never re-resolving)."""
        error: Exception | None = None
        for address in await self._guard.addresses(host):
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # addresses() never returns an empty tuple
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never used for fetching."""
        raise BlockedURLError(f"refused unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        """Delegate to anyio."""
        await self._inner.sleep(seconds)


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """True if ``error`` or an exception it was raised from/during is a ``kind``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def _transport_errors(url: httpx.URL) -> Iterator[None]:
    """Turn httpcore's exceptions into FetchError subclasses (with the URL in the message)."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        kind = type(exc).__name__
        raise FetchTimeoutError(f"{kind} while fetching {url}", retryable=True) from exc
    except (httpcore.NetworkError, httpcore.RemoteProtocolError) as exc:
        detail = str(exc) or type(exc).__name__
        bad_certificate = _caused_by(exc, ssl.SSLCertVerificationError)
        raise ConnectionFailedError(
            f"connection to {url} failed: {detail}", retryable=not bad_certificate
        ) from exc
    except httpcore.ProxyError as exc:  # pragma: no cover - no proxies are configured
        raise ConnectionFailedError(f"proxy error fetching {url}: {exc}") from exc
    except (httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise ConnectionFailedError(f"protocol error fetching {url}: {exc}") from exc


class _GuardedResponseStream(httpx.AsyncByteStream):
    """The body stream of a ``GuardedTransport`` response, with errors translated."""

    def __init__(self, stream: AsyncIterable[bytes], url: httpx.URL) -> None:
        self._stream = stream
        self._url = url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _transport_errors(self._url):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """Certificate checks against certifi's roots, built once: loading the roots takes 25-50 ms,
    which every batch (a Fetcher each) would pay again."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that dials only checked addresses, with one httpcore connection
    pool per origin (``max_connections`` each).

    URLs keep their host names, so the Host header, TLS SNI and certificate checks and the
    connection pool all work per name, while the TCP connection goes to an address that
    ``AddressGuard`` resolved and approved. Errors come out as ``FetchError`` subclasses.

    Why a pool per origin: httpcore's pool re-examines every connection it holds (a readability
    syscall on each idle one) whenever a request starts or ends, so one pool shared by many
    hosts costs O(connections) per request; per origin it holds only the few connections the
    politeness gate lets that host have.
    """

    def __init__(
        self,
        guard: AddressGuard,
        *,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_connections = max(1, max_connections)
        self._ssl_context = ssl_context or _default_ssl_context()
        self._backend = _PinnedBackend(guard)
        self._pools: dict[tuple[bytes, bytes, int | None], httpcore.AsyncConnectionPool] = {}

    def _pool(self, url: httpx.URL) -> httpcore.AsyncConnectionPool:
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context,
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
                keepalive_expiry=5.0,
                network_backend=self._backend,
            )
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pinned connection pool of its origin."""
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _transport_errors(request.url):
            core_response = await self._pool(request.url).handle_async_request(core_request)
        assert isinstance(core_response.stream, AsyncIterable)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_GuardedResponseStream(core_response.stream, request.url),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


# --------------------------------------------------------------------------- politeness


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


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """``("text/html", "utf-8")`` from ``"text/html; charset=UTF-8"``; Nones when absent."""
    if not value:
        return None, None
    mime, _, parameters = value.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, raw = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = raw.strip().strip("\"'").lower() or None
    return mime.strip().lower() or None, charset


def decode_body(raw: bytes, content_encoding: str | None, limit: int, url: str = "") -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, br, identity; in reverse order of listing)
    without ever producing more than ``limit`` bytes (ResponseTooLargeError beyond that)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    data = raw
    for coding in reversed(codings):
        try:
            if coding in ("gzip", "x-gzip"):
                data = _inflate(data, limit, wbits=16 + zlib.MAX_WBITS, multi_member=True)
            elif coding == "deflate":
                data = _inflate(data, limit, wbits=_deflate_wbits(data), multi_member=False)
            elif coding == "br":
                data = _unbrotli(data, limit)
            elif coding != "identity":
                raise ContentTypeError(f"unsupported Content-Encoding {coding!r} from {url}")
        except _TooLarge:
            raise ResponseTooLargeError(
                f"body of {url} decompresses ({coding}) to more than {limit} bytes"
            ) from None
        except (zlib.error, brotli.error, _Truncated) as exc:
            raise ContentTypeError(f"corrupt {coding} body from {url}: {exc}") from exc
    if len(data) > limit:
        raise ResponseTooLargeError(f"body of {url} is larger than {limit} bytes")
    return data


class _TooLarge(Exception):
    """Internal: decompression went past the limit."""


class _Truncated(Exception):
    """Internal: the compressed stream ended early."""


def _deflate_wbits(data: bytes) -> int:
    """HTTP "deflate" should be zlib-wrapped, but some servers send raw deflate."""
    has_zlib_header = (
        len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
    )
    return zlib.MAX_WBITS if has_zlib_header else -zlib.MAX_WBITS


def _inflate(data: bytes, limit: int, *, wbits: int, multi_member: bool) -> bytes:
    """Bounded zlib/gzip/deflate decoding: never holds more than ``limit + 1`` output bytes."""
    out = bytearray()
    while True:
        decoder = zlib.decompressobj(wbits)
        # max_length stops inflating once the budget is full; hitting it means "too large".
        out += decoder.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise _TooLarge
        if not decoder.eof:
            raise _Truncated("the compressed stream is truncated")
        data = decoder.unused_data
        if not (multi_member and data.startswith(b"\x1f\x8b")):
            return bytes(out)  # trailing garbage after the last gzip member is ignored


def _unbrotli(data: bytes, limit: int) -> bytes:
    """Bounded brotli decoding using ``output_buffer_limit`` (brotli >= 1.2)."""
    decoder = brotli.Decompressor()
    out = bytearray(decoder.process(data, output_buffer_limit=limit + 1))
    while len(out) <= limit and not decoder.is_finished() and not decoder.can_accept_more_data():
        chunk = decoder.process(b"", output_buffer_limit=limit + 1 - len(out))
        if not chunk:
            break
        out += chunk
    if len(out) > limit:
        raise _TooLarge
    if not decoder.is_finished():
        raise _Truncated("the compressed stream is truncated")
    return bytes(out)


def _check_content_type(kind: str, content_type: str | None, url: httpx.URL) -> None:
    accepted = _ACCEPTED_TYPES[kind]
    if accepted is not None and content_type is not None and content_type not in accepted:
        raise ContentTypeError(
            f"{url} is {content_type}, not {kind} ({', '.join(sorted(accepted))})"
        )


def _robots_agent(user_agent: str) -> str:
    """The product token robots.txt rules are matched against ("newsledger")."""
    token = user_agent.split("/", 1)[0].split()
    return token[0] if token else user_agent


def _host(url: httpx.URL) -> str:
    """The host as it goes on the wire (IDNA-encoded, IPv6 without brackets): the same
    string the connection pool hands to the network backend, so both share one DNS answer."""
    return url.raw_host.decode("ascii")


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


# --------------------------------------------------------------------------- robots.txt


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


def host_of(url: str) -> str | None:
    """The host of a URL as the politeness gates key it (IDNA, IPv6 without brackets)."""
    try:
        return _host(httpx.URL(_uts46_url(url)))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL as the fetcher keys robots.txt, or None if invalid."""
    try:
        return _origin(httpx.URL(url))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None


# --------------------------------------------------------------------------- the fetcher

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
        self._robots_agent = _robots_agent(self._settings.user_agent)
        self.robots_unavailable: dict[str, str] = {}
        """Origins whose robots.txt could not be read (treated as allow-all), with the reason."""

    async def __aenter__(self) -> Fetcher:
        s = self._settings
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(
                self._guard,
                # the host gate admits per_host_concurrency requests at a time (robots.txt
                # included); one spare connection keeps a closing one from blocking a request
                max_connections=min(s.per_host_concurrency, s.global_concurrency) + 1,
                ssl_context=self._ssl_context,
            ),
            headers={"User-Agent": s.full_user_agent, "Accept-Encoding": _ACCEPT_ENCODING},
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
        if kind not in _ACCEPTED_TYPES:
            raise ValueError(f"kind must be one of {get_args(FetchKind)}, not {kind!r}")
        headers = {"Accept": _ACCEPT_HEADERS[kind]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._fetch_with_retries(
            url, headers=headers, kind=kind, retries=self._settings.max_retries
        )

    async def fetch_many(self, requests: Sequence[FetchRequest]) -> list[FetchedPage | FetchError]:
        """Fetch all ``requests`` concurrently (within the politeness limits); results come
        back in input order, failures as FetchError values."""

        async def one(request: FetchRequest) -> FetchedPage | FetchError:
            try:
                return await self.fetch(
                    request.url,
                    etag=request.etag,
                    last_modified=request.last_modified,
                    kind=request.kind,
                )
            except FetchError as exc:
                return exc
            except Exception as exc:  # one URL must never stop the others
                log.exception("unexpected error fetching %s", redact_userinfo(request.url))
                error = FetchError(
                    f"unexpected error fetching {redact_userinfo(request.url)}: "
                    f"{type(exc).__name__}",
                    code="unexpected",
                )
                error.__cause__ = exc
                return error

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(request)) for request in requests]
        return [task.result() for task in tasks]

    # -- step 1: retries ---------------------------------------------------------------------

    async def _fetch_with_retries(
        self, url: str, *, headers: dict[str, str], kind: str, retries: int
    ) -> FetchedPage:
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                page = await self._follow(url, headers=headers, kind=kind)
                return replace(page, attempts=attempt, elapsed_seconds=loop.time() - started)
            except _RetryLater as later:
                error: FetchError = later.error
                retry_after = later.retry_after
            except FetchError as exc:
                error = exc
            if not error.retryable or attempt > retries:
                if attempt > 1:
                    error.add_note(f"gave up after {attempt} attempts")
                raise error
            delay = backoff_delay(
                attempt,
                base=self._settings.backoff_base_seconds,
                cap=self._settings.backoff_max_seconds,
                retry_after=retry_after,
            )
            log.info("retrying %s in %.2fs after attempt %d: %s", url, delay, attempt, error)
            await asyncio.sleep(delay)

    # -- step 2: redirects, guard, robots, politeness ---------------------------------------

    async def _follow(self, url: str, *, headers: dict[str, str], kind: str) -> FetchedPage:
        current = self._guard.check_url(url)
        chain = [str(current)]
        for _hop in range(self._settings.max_redirects + 1):
            host = _host(current)
            try:
                await self._guard.addresses(host)  # resolve + check before any connection
            except BlockedURLError as exc:
                if len(chain) == 1:
                    raise
                raise BlockedURLError(f"{exc} (redirected from {chain[-2]})") from exc
            crawl_delay = 0.0
            if kind != "robots":
                await self._check_robots(current)
                crawl_delay = self._crawl_delays.get(_origin(current), 0.0)
            async with self._slot(host, crawl_delay):
                outcome = await self._exchange(current, requested=url, headers=headers, kind=kind)
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
        rules = await self._robots_for(_origin(url))
        if rules is not None and not rules.can_fetch(str(url), self._robots_agent):
            raise RobotsDisallowedError(f"robots.txt of {_origin(url)} disallows {url}")

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
                delay = rules.crawl_delay(self._robots_agent) if rules is not None else None
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
                headers={"Accept": _ACCEPT_HEADERS["robots"]},
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
            text = page.body[:_ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            return RobotsRecord(origin, page.status, text, page.fetched_at)
        return None

    def _note_robots_unavailable(self, origin: str, error: FetchError) -> None:
        log.warning("robots.txt of %s unavailable, allowing all: %s", origin, error)
        self.robots_unavailable[origin] = str(error)

    # -- step 3: one HTTP exchange -----------------------------------------------------------

    async def _exchange(
        self, url: httpx.URL, *, requested: str, headers: dict[str, str], kind: str
    ) -> FetchedPage | httpx.URL:
        """One GET under the total deadline: a page, or the next URL of a redirect."""
        assert self._client is not None  # checked in fetch()
        total = self._settings.total_timeout
        try:
            async with asyncio.timeout(total):
                async with self._client.stream("GET", url, headers=headers) as response:
                    return await self._read_response(response, requested=requested, kind=kind)
        except TimeoutError as exc:
            raise FetchTimeoutError(
                f"{url} did not answer completely within {total} s", retryable=True
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
        if status in _REDIRECT_STATUSES and response.headers.get("location"):
            location = response.headers["location"]
            try:
                try:
                    return url.join(location)
                except httpx.InvalidURL:  # e.g. a non-ASCII host only UTS-46 maps
                    return httpx.URL(_uts46_url(urljoin(str(url), location)))
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
            raise _RetryLater(error, parse_retry_after(response.headers.get("retry-after")))
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
