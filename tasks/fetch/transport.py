"""The pinned transport: httpx connections go only to addresses the SSRF guard checked, and
httpcore's errors come out as ``FetchError`` subclasses."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx
from newsledger.tasks.errors import BlockedURLError, ConnectionFailedError, FetchTimeoutError
from newsledger.tasks.fetch.guard import AddressGuard


class WireCapture:
    """The bytes of one HTTP/1.1 exchange exactly as they crossed the connection (after TLS
    decryption): the request as h11 wrote it, the response as the server sent it (status
    line, header lines, chunked framing and the still compressed body)."""

    __slots__ = ("ip_address", "received", "sent", "started")

    def __init__(self, ip_address: str | None) -> None:
        self.ip_address = ip_address
        self.started = time.time()
        """When the request began to be written (seconds since the epoch)."""
        self.sent = bytearray()
        self.received = bytearray()


class TappedStream(httpcore.AsyncNetworkStream):
    """A network stream that copies what is written and read into a ``WireCapture`` per
    exchange: a write after a read starts the next exchange (HTTP/1.1 never pipelines here).
    httpcore hands the stream to the response as ``extensions["network_stream"]``; taking
    ``capture`` as soon as the response headers are in keeps the exchange's capture even
    after the connection has gone back to the pool."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, ip_address: str | None) -> None:
        self._inner = inner
        self._ip_address = ip_address
        self.capture = WireCapture(ip_address)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._inner.read(max_bytes, timeout)
        self.capture.received += data
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self.capture.received:
            self.capture = WireCapture(self._ip_address)
        if not self.capture.sent:
            self.capture.started = time.time()
        self.capture.sent += buffer
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """The TLS stream, tapped in turn: the capture holds the decrypted bytes."""
        inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return TappedStream(inner, self._ip_address)

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard has checked."""

    def __init__(self, guard: AddressGuard, *, capture: bool = False) -> None:
        self._guard = guard
        self._capture = capture
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
                stream = await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return TappedStream(stream, str(address)) if self._capture else stream
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
    With ``capture`` every connection is a ``TappedStream``: each response's
    ``extensions["network_stream"].capture`` holds its exchange's bytes (the WARC archive).

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
        capture: bool = False,
    ) -> None:
        self._max_connections = max(1, max_connections)
        self._ssl_context = ssl_context or _default_ssl_context()
        self._backend = _PinnedBackend(guard, capture=capture)
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
