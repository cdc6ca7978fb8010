"""The pinned transport: httpx connections go only to addresses the SSRF guard checked, and
httpcore's errors come out as ``FetchError`` subclasses."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx
from newsledger.tasks.errors import BlockedURLError, ConnectionFailedError, FetchTimeoutError
from newsledger.tasks.fetch.guard import AddressGuard


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
