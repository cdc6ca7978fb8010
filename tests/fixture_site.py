"""A real HTTP/1.1 server on 127.0.0.1 for tests (pages, feeds, polling, misbehaviours).

``FixtureSite`` runs ``http.server.ThreadingHTTPServer`` on a free port in a background thread.
Register routes, fetch ``site.url(path)`` with any real client, then look at what the server saw:

    with FixtureSite() as site:
        site.set_page("/a.html", "<html>v1</html>")      # static: ETag/Last-Modified/304
        site.route("/hook", lambda request: Reply(status=201, body=b"ok"))
        ...
        site.count("/a.html"), site.requests("/a.html")[0].headers["user-agent"]
        site.set_page("/a.html", "<html>v2</html>")      # the page changes between polls
        site.max_in_flight("/slow/")                      # most simultaneous requests seen

``install_standard_routes()`` registers canned misbehaviours at the paths of
``STANDARD_ROUTES``. The ``fixture_site`` pytest fixture yields a started site with them.
Unknown paths answer 404. Only GET is served.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import itertools
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import brotli
import httpcore
import pytest

LATIN1_HTML = (
    "<html><head><title>Café crème</title></head>"
    "<body><p>Déjà vu: naïve façade, ½ prix, «garçon»!</p></body></html>"
).encode("latin-1")

STANDARD_ROUTES: dict[str, str] = {
    "/ok.html": "a small UTF-8 HTML page (ETag, Last-Modified, 304 support)",
    "/latin1.html": "Latin-1 bytes, Content-Type text/html without charset",
    "/feed.xml": "a small RSS feed (application/rss+xml)",
    "/doc.pdf": "application/pdf",
    "/robots.txt": "User-agent: * / Disallow: /private/",
    "/private/secret.html": "a page robots.txt disallows",
    "/retry-after": "429 with Retry-After: 1 once, then the page",
    "/retry-after-date": "503 with an HTTP-date Retry-After once, then the page",
    "/flaky": "500 twice, then the page",
    "/always-500": "500 forever",
    "/reset": "closes the connection (RST) without any response",
    "/drip": "headers at once, then one byte every 0.2 s (100 bytes in all)",
    "/stall": "headers at once, then 3 s of silence before the body",
    "/big": "2 MiB body with Content-Length",
    "/big-stream": "2 MiB body streamed without Content-Length (connection close)",
    "/gzip.html": "the HTML page gzip-encoded",
    "/deflate.html": "the HTML page deflate-encoded",
    "/brotli.html": "the HTML page brotli-encoded",
    "/corrupt.gz": "Content-Encoding: gzip with garbage bytes",
    "/bomb.gz": "gzip bomb: ~130 KB that decode to 128 MiB of zeros",
    "/bomb.br": "brotli bomb: ~200 bytes that decode to 128 MiB of zeros",
    "/redirect/ok": "302 to /ok.html",
    "/redirect/relative": "301 to ../ok.html (relative Location)",
    "/loop/a": "302 to /loop/b, which redirects back to /loop/a",
    "/redirect/metadata": "302 to http://169.254.169.254/latest/meta-data/",
    "/redirect/private": "302 to http://10.0.0.1/admin",
}

OK_HTML = (
    b"<html><head><title>OK</title></head><body>"
    b"<p>Hello, world: a short fixture story, long enough to be kept.</p></body></html>"
)
FEED_XML = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Fixture</title>'
    b"<item><title>One</title><link>http://example.com/1</link><guid>1</guid></item>"
    b"</channel></rss>"
)


@dataclass
class RecordedRequest:
    """One request as the server saw it (``finished`` is set when the reply starts)."""

    method: str
    path: str
    target: str
    headers: dict[str, str]
    started: float
    finished: float | None = None
    client_port: int = 0  # the client's end of the TCP connection (one per connection)


@dataclass
class Reply:
    """What a route answers. ``chunks`` streams a body (each chunk after ``chunk_delay``
    seconds; without a Content-Length header the connection is closed at the end);
    ``reset`` closes the socket with an RST and sends nothing."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] | None = None
    chunk_delay: float = 0.0
    reset: bool = False


Handler = Callable[[RecordedRequest], Reply]


@dataclass
class _Route:
    handler: Handler
    delay_seconds: float = 0.0


@dataclass
class _StaticPage:
    body: bytes
    status: int
    headers: dict[str, str]
    etag: str
    last_modified: int
    conditional: bool

    def reply(self, request: RecordedRequest) -> Reply:
        validators = {}
        if self.conditional:
            validators = {
                "ETag": self.etag,
                "Last-Modified": email.utils.formatdate(self.last_modified, usegmt=True),
            }
        if self.conditional and self.status == 200 and self._not_modified(request):
            return Reply(status=304, headers=validators)
        return Reply(status=self.status, body=self.body, headers={**self.headers, **validators})

    def _not_modified(self, request: RecordedRequest) -> bool:
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or self.etag in tags
        if_modified_since = request.headers.get("if-modified-since")
        if if_modified_since:
            try:
                since = email.utils.parsedate_to_datetime(if_modified_since).timestamp()
            except (TypeError, ValueError):
                return False
            return self.last_modified <= since
        return False


# --------------------------------------------------------------------------- payloads


@functools.cache
def gzip_bomb(decoded_size: int = 128 * 1024 * 1024) -> bytes:
    """A gzip member of ``decoded_size`` zero bytes, built without holding them in memory:
    one fully-flushed deflate segment of 1 MiB of zeros is repeated (~1 KB each)."""
    block = bytes(1024 * 1024)
    count = max(1, decoded_size // len(block))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (count * len(block)) & 0xFFFFFFFF)
    return header + segment * count + final + trailer


@functools.cache
def brotli_bomb(decoded_size: int = 128 * 1024 * 1024) -> bytes:
    """A brotli stream of ``decoded_size`` zero bytes (a few hundred bytes), built in 1 MiB
    steps."""
    block = bytes(1024 * 1024)
    compressor = brotli.Compressor(quality=5)
    parts = [compressor.process(block) for _ in range(max(1, decoded_size // len(block)))]
    return b"".join(parts) + compressor.finish()


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


# --------------------------------------------------------------------------- the server


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.site._serve(self)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: FixtureSite

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-response are expected here


class FixtureSite:
    """A real HTTP server on 127.0.0.1 (random free port) in a background thread."""

    def __init__(
        self, *, delay_seconds: float = 0.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.delay_seconds = delay_seconds
        self._ssl_context = ssl_context
        """A server-side TLS context makes the site speak https (``base_url`` follows)."""
        """Artificial latency added before every response (e.g. to measure concurrency)."""
        self._routes: dict[str, _Route] = {}
        self._prefix_routes: dict[str, _Route] = {}
        self._pages: dict[str, _StaticPage] = {}
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._clock = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> FixtureSite:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _RequestHandler)
        server.site = self
        if self._ssl_context is not None:
            server.socket = self._ssl_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (in-flight handlers are abandoned)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the site first"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this site."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- routes ----------------------------------------------------------------------------

    def route(
        self, path: str, handler: Handler, *, prefix: bool = False, delay_seconds: float = 0.0
    ) -> None:
        """Answer ``path`` (or every path starting with it, if ``prefix``) with ``handler``."""
        target = self._prefix_routes if prefix else self._routes
        with self._lock:
            self._pages.pop(path, None)
            target[path] = _Route(handler, delay_seconds)

    def set_page(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        conditional: bool = True,
        delay_seconds: float = 0.0,
    ) -> None:
        """Serve a static page; call again to change it. With ``conditional`` it carries an
        ETag (hash of the body) and a Last-Modified that grows on every change, and answers
        If-None-Match / If-Modified-Since with 304."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self._clock = max(int(time.time()), self._clock + 1)
            page = _StaticPage(
                body=data,
                status=status,
                headers={"Content-Type": content_type, **(headers or {})},
                etag='"' + hashlib.sha256(data).hexdigest()[:16] + '"',
                last_modified=self._clock,
                conditional=conditional,
            )
            self._pages[path] = page
            self._routes[path] = _Route(page.reply, delay_seconds)

    def page_etag(self, path: str) -> str:
        """The ETag currently served for static page ``path``."""
        return self._pages[path].etag

    # -- what the server saw ---------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Requests received (for ``path`` only, if given), oldest first."""
        with self._lock:
            return [r for r in self._log if path is None or r.path == path]

    def count(self, path: str) -> int:
        """How many requests ``path`` received."""
        return len(self.requests(path))

    def max_in_flight(self, prefix: str = "/") -> int:
        """Most requests under ``prefix`` being handled at the same time (from receipt of the
        request until the reply starts; a reply starting ends the request's interval before
        the client can possibly send the next one, so this never over-counts)."""
        with self._lock:
            events: list[tuple[float, int]] = []
            for record in self._log:
                if record.path.startswith(prefix):
                    events.append((record.started, 1))
                    events.append((record.finished or float("inf"), -1))
        current = peak = 0
        for _, step in sorted(events):  # at equal times, -1 sorts before +1
            current += step
            peak = max(peak, current)
        return peak

    def clear_log(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self._log.clear()

    # -- canned misbehaviours --------------------------------------------------------------

    def add_failures(
        self,
        path: str,
        *,
        failures: int,
        status: int = 500,
        headers: dict[str, str] | None = None,
        then: Reply | None = None,
    ) -> None:
        """Answer ``status`` (with ``headers``) for the first ``failures`` requests, then
        ``then`` (a small HTML page by default). ``failures`` < 0 fails forever."""
        counter = itertools.count(1)
        success = then or Reply(body=OK_HTML, headers={"Content-Type": "text/html"})

        def handler(request: RecordedRequest) -> Reply:
            if failures < 0 or next(counter) <= failures:
                return Reply(status=status, body=b"failure\n", headers=dict(headers or {}))
            return success

        self.route(path, handler)

    def add_redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Redirect ``path`` to ``location`` (absolute or relative)."""
        self.route(path, lambda request: Reply(status=status, headers={"Location": location}))

    def add_reset(self, path: str) -> None:
        """Close the connection without a response (RST)."""
        self.route(path, lambda request: Reply(reset=True))

    def add_drip(
        self, path: str, *, size: int = 100, interval: float = 0.2, declare_length: bool = True
    ) -> None:
        """Send headers at once, then one byte every ``interval`` seconds."""
        headers = {"Content-Type": "text/html"}
        if declare_length:
            headers["Content-Length"] = str(size)
        self.route(
            path,
            lambda request: Reply(headers=headers, chunks=[b"x"] * size, chunk_delay=interval),
        )

    def add_oversized(self, path: str, size: int, *, declare_length: bool = True) -> None:
        """A ``size``-byte HTML body, with Content-Length or streamed until close."""
        chunk = b"<p>" + b"x" * 65530 + b"</p>"

        def chunks() -> Iterator[bytes]:
            remaining = size
            while remaining > 0:
                yield chunk[:remaining]
                remaining -= len(chunk)

        headers = {"Content-Type": "text/html"}
        if declare_length:
            headers["Content-Length"] = str(size)
        self.route(path, lambda request: Reply(headers=headers, chunks=chunks()))

    def add_encoded(self, path: str, body: bytes, encoding: str, *, content_type: str) -> None:
        """Serve ``body`` with a Content-Encoding of gzip, deflate or br."""
        encoders: dict[str, Callable[[bytes], bytes]] = {
            "gzip": _gzip,
            "deflate": zlib.compress,
            "br": brotli.compress,
        }
        encoded = encoders[encoding](body)
        headers = {"Content-Type": content_type, "Content-Encoding": encoding}
        self.route(path, lambda request: Reply(body=encoded, headers=headers))

    def add_bomb(self, path: str, encoding: str, decoded_size: int = 128 * 1024 * 1024) -> None:
        """A compression bomb (built lazily on the first request, then cached)."""
        build = gzip_bomb if encoding == "gzip" else brotli_bomb
        headers = {"Content-Type": "text/html", "Content-Encoding": encoding}
        self.route(path, lambda request: Reply(body=build(decoded_size), headers=headers))

    def set_robots(self, text: str) -> None:
        """Serve ``text`` as /robots.txt."""
        self.set_page("/robots.txt", text, content_type="text/plain")

    def install_standard_routes(self) -> None:
        """Register every route of ``STANDARD_ROUTES``."""
        html = "text/html; charset=utf-8"
        self.set_page("/ok.html", OK_HTML)
        self.set_page("/latin1.html", LATIN1_HTML, content_type="text/html")
        self.set_page("/feed.xml", FEED_XML, content_type="application/rss+xml")
        self.set_page("/doc.pdf", b"%PDF-1.4\n%fixture\n", content_type="application/pdf")
        self.set_robots("User-agent: *\nDisallow: /private/\n")
        self.set_page("/private/secret.html", "<html>secret</html>")
        self.add_failures("/retry-after", failures=1, status=429, headers={"Retry-After": "1"})
        retry_at = email.utils.formatdate(time.time() + 1, usegmt=True)
        self.add_failures(
            "/retry-after-date", failures=1, status=503, headers={"Retry-After": retry_at}
        )
        self.add_failures("/flaky", failures=2, status=500)
        self.add_failures("/always-500", failures=-1, status=500)
        self.add_reset("/reset")
        self.add_drip("/drip", size=100, interval=0.2)
        self.add_drip("/stall", size=10, interval=3.0)
        self.add_oversized("/big", 2 * 1024 * 1024)
        self.add_oversized("/big-stream", 2 * 1024 * 1024, declare_length=False)
        self.add_encoded("/gzip.html", OK_HTML, "gzip", content_type=html)
        self.add_encoded("/deflate.html", OK_HTML, "deflate", content_type=html)
        self.add_encoded("/brotli.html", OK_HTML, "br", content_type=html)
        self.route(
            "/corrupt.gz",
            lambda request: Reply(
                body=b"\x1f\x8b\x08\x00garbage, not gzip at all",
                headers={"Content-Type": html, "Content-Encoding": "gzip"},
            ),
        )
        self.add_bomb("/bomb.gz", "gzip")
        self.add_bomb("/bomb.br", "br")
        self.add_redirect("/redirect/ok", "/ok.html")
        self.add_redirect("/redirect/relative", "../ok.html", status=301)
        self.add_redirect("/loop/a", "/loop/b")
        self.add_redirect("/loop/b", "/loop/a")
        self.add_redirect("/redirect/metadata", "http://169.254.169.254/latest/meta-data/")
        self.add_redirect("/redirect/private", "http://10.0.0.1/admin")

    # -- serving (server threads) ----------------------------------------------------------

    def _serve(self, handler: _RequestHandler) -> None:
        record = RecordedRequest(
            method=handler.command,
            path=urlsplit(handler.path).path,
            target=handler.path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            started=time.monotonic(),
            client_port=handler.client_address[1],
        )
        with self._lock:
            self._log.append(record)
            route = self._routes.get(record.path) or self._match_prefix(record.path)
        try:
            delay = self.delay_seconds + (route.delay_seconds if route else 0.0)
            if delay > 0:
                time.sleep(delay)
            reply = route.handler(record) if route else Reply(status=404, body=b"not found\n")
            record.finished = time.monotonic()
            self._write(handler, reply)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        finally:
            if record.finished is None:
                record.finished = time.monotonic()

    def _match_prefix(self, path: str) -> _Route | None:
        matches = [prefix for prefix in self._prefix_routes if path.startswith(prefix)]
        return self._prefix_routes[max(matches, key=len)] if matches else None

    @staticmethod
    def _write(handler: _RequestHandler, reply: Reply) -> None:
        if reply.reset:
            handler.close_connection = True
            sock = handler.connection
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # the fd closes (with RST) once the handler's files are closed
            return
        handler.send_response(reply.status)
        names = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        streamed_without_length = reply.chunks is not None and "content-length" not in names
        if streamed_without_length:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        elif reply.chunks is None and reply.status not in (204, 304):
            handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        if reply.chunks is None:
            handler.wfile.write(reply.body)
            return
        for chunk in reply.chunks:
            if reply.chunk_delay:
                time.sleep(reply.chunk_delay)
            handler.wfile.write(chunk)
            handler.wfile.flush()


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    """A started FixtureSite with the standard routes installed."""
    with FixtureSite() as started:
        started.install_standard_routes()
        yield started


@pytest.fixture
def dialled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a TCP connection is opened to (a pass-through spy on the socket dial)."""
    seen: list[str] = []
    original = httpcore.AnyIOBackend.connect_tcp

    async def spy(self: httpcore.AnyIOBackend, host: str, port: int, **kwargs: Any) -> Any:
        seen.append(host)
        return await original(self, host, port, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
    return seen
