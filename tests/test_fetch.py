"""Tests of tasks/fetch.py against a real HTTP server on 127.0.0.1 (tests/fixture_site.py).

No mocking of httpx or of transports: every request crosses a real socket. The only stand-ins
are a pass-through spy on the socket-opening call (to prove what was, and was not, dialled) and
an injected DNS resolver where a test needs a host name that does not exist.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import brotli
import httpx
import pytest
from fixture_site import FEED_XML, LATIN1_HTML, OK_HTML, FixtureSite, Reply, gzip_bomb
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
from newsledger.tasks.fetch import (
    AddressGuard,
    FetchedPage,
    Fetcher,
    FetchRequest,
    GuardedTransport,
    HostGate,
    RobotsCache,
    RobotsRecord,
    backoff_delay,
    decode_body,
    fetch_all,
    origin_of,
    parse_retry_after,
)
from newsledger.tasks.settings import Settings

T = TypeVar("T")
MiB = 1024 * 1024


# --------------------------------------------------------------------------- helpers


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allowed_hosts": ["127.0.0.1"],
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "total_timeout": 1.0,
        "max_retries": 2,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "per_host_delay_seconds": 0.0,
        "per_host_concurrency": 4,
        "max_response_bytes": 1 * MiB,
        "max_decompressed_bytes": 1 * MiB,
    }
    values.update(overrides)
    return Settings(**values)


def with_fetcher(
    settings: Settings, use: Callable[[Fetcher], Awaitable[T]], **fetcher_args: Any
) -> T:
    async def run() -> T:
        async with Fetcher(settings, **fetcher_args) as fetcher:
            return await use(fetcher)

    return asyncio.run(run())


def fetch(settings: Settings, url: str, **kwargs: Any) -> FetchedPage:
    return with_fetcher(settings, lambda fetcher: fetcher.fetch(url, **kwargs))


def fetch_error(settings: Settings, url: str, error: type[FetchError], **kwargs: Any) -> FetchError:
    with pytest.raises(error) as caught:
        fetch(settings, url, **kwargs)
    assert caught.value.stage == "fetch"
    assert str(caught.value)  # a message for a person
    return caught.value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- plain pages


def test_page_has_all_fields_and_honest_user_agent(site: FixtureSite) -> None:
    settings = make_settings(contact="ops@example.org")
    page = fetch(settings, site.url("/ok.html"))

    assert page.status == 200 and not page.not_modified
    assert page.url == page.final_url == site.url("/ok.html")
    assert page.body == OK_HTML
    assert page.content_type == "text/html" and page.charset == "utf-8"
    assert page.etag == site.page_etag("/ok.html")
    assert page.last_modified == page.headers["last-modified"]
    assert all(name == name.lower() for name in page.headers)
    assert page.fetched_at.tzinfo is not None and page.fetched_at.utcoffset() == timedelta(0)
    assert page.attempts == 1 and page.elapsed_seconds >= 0
    seen = site.requests("/ok.html")[0].headers
    assert seen["user-agent"] == settings.full_user_agent
    assert "ops@example.org" in seen["user-agent"]
    assert seen["accept-encoding"] == "gzip, deflate, br"
    assert "if-none-match" not in seen and "if-modified-since" not in seen


def test_latin1_page_bytes_are_preserved_exactly(site: FixtureSite) -> None:
    page = fetch(make_settings(), site.url("/latin1.html"))
    assert page.body == LATIN1_HTML
    assert page.content_type == "text/html" and page.charset is None


@pytest.mark.parametrize("path", ["/gzip.html", "/deflate.html", "/brotli.html"])
def test_compressed_bodies_are_decoded(site: FixtureSite, path: str) -> None:
    page = fetch(make_settings(), site.url(path))
    assert page.body == OK_HTML


def test_connection_pool_is_shared(site: FixtureSite, dialled: list[str]) -> None:
    async def three(fetcher: Fetcher) -> None:
        for _ in range(3):
            await fetcher.fetch(site.url("/ok.html"))

    with_fetcher(make_settings(respect_robots=False), three)
    assert dialled == ["127.0.0.1"]  # one keep-alive connection served all three


# --------------------------------------------------------------------------- conditional GET


def test_etag_gives_304_until_the_page_changes(site: FixtureSite) -> None:
    settings = make_settings()
    first = fetch(settings, site.url("/ok.html"))

    again = fetch(settings, site.url("/ok.html"), etag=first.etag)
    assert again.status == 304 and again.not_modified and again.body == b""
    assert again.etag == first.etag
    assert site.requests("/ok.html")[-1].headers["if-none-match"] == first.etag

    site.set_page("/ok.html", "<html>changed</html>")
    changed = fetch(settings, site.url("/ok.html"), etag=first.etag)
    assert changed.status == 200 and changed.body == b"<html>changed</html>"
    assert changed.etag != first.etag


def test_last_modified_gives_304_until_the_page_changes(site: FixtureSite) -> None:
    settings = make_settings()
    first = fetch(settings, site.url("/feed.xml"), kind="feed")
    assert first.body == FEED_XML and first.last_modified

    again = fetch(settings, site.url("/feed.xml"), kind="feed", last_modified=first.last_modified)
    assert again.status == 304 and again.body == b""
    assert again.last_modified == first.last_modified
    assert site.requests("/feed.xml")[-1].headers["if-modified-since"] == first.last_modified

    site.set_page("/feed.xml", FEED_XML + b"<!-- v2 -->", content_type="application/rss+xml")
    changed = fetch(settings, site.url("/feed.xml"), kind="feed", last_modified=first.last_modified)
    assert changed.status == 200 and changed.body.endswith(b"<!-- v2 -->")


# --------------------------------------------------------------------------- retries


def test_429_with_retry_after_is_retried_once(site: FixtureSite) -> None:
    page = fetch(make_settings(), site.url("/retry-after"))
    assert page.status == 200 and page.attempts == 2
    assert site.count("/retry-after") == 2


def test_503_with_http_date_retry_after_is_retried(site: FixtureSite) -> None:
    page = fetch(make_settings(), site.url("/retry-after-date"))
    assert page.attempts == 2 and site.count("/retry-after-date") == 2


def test_500s_that_recover(site: FixtureSite) -> None:
    page = fetch(make_settings(max_retries=3), site.url("/flaky"))
    assert page.status == 200 and page.attempts == 3
    assert site.count("/flaky") == 3


def test_500s_that_do_not_recover(site: FixtureSite) -> None:
    error = fetch_error(make_settings(max_retries=2), site.url("/always-500"), HTTPStatusError)
    assert error.code == "http_500" and error.status == 500 and error.retryable
    assert site.count("/always-500") == 3


def test_404_is_final(site: FixtureSite) -> None:
    error = fetch_error(make_settings(), site.url("/missing.html"), HTTPStatusError)
    assert error.code == "http_404" and error.status == 404 and not error.retryable
    assert site.count("/missing.html") == 1


def test_connection_reset_is_retried_then_reported(site: FixtureSite) -> None:
    error = fetch_error(make_settings(max_retries=1), site.url("/reset"), ConnectionFailedError)
    assert error.code == "connection" and error.retryable
    assert site.count("/reset") == 2


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    error = fetch_error(
        make_settings(max_retries=0, respect_robots=False), url, ConnectionFailedError
    )
    assert "127.0.0.1" in str(error)


def test_retry_after_parsing_and_backoff() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None

    assert backoff_delay(1, base=1, cap=60, retry_after=7) == 7  # honoured
    assert backoff_delay(1, base=1, cap=5, retry_after=7) == 5  # capped
    assert backoff_delay(4, base=1, cap=60, rng=lambda: 1.0) == 8  # exponential ceiling
    assert backoff_delay(4, base=1, cap=60, rng=lambda: 0.25) == 2  # full jitter below it
    assert backoff_delay(100, base=1, cap=60, rng=lambda: 1.0) == 60


# --------------------------------------------------------------------------- timeouts and sizes


def test_slow_drip_hits_the_total_deadline(site: FixtureSite) -> None:
    # One byte every 0.2 s never trips the 1 s read timeout; only the total deadline stops it.
    settings = make_settings(total_timeout=0.5, read_timeout=1.0, max_retries=0)
    error = fetch_error(settings, site.url("/drip"), FetchTimeoutError)
    assert error.code == "timeout" and error.retryable
    assert "0.5" in str(error)


def test_stalled_body_hits_the_read_timeout(site: FixtureSite) -> None:
    settings = make_settings(read_timeout=0.3, total_timeout=2.0, max_retries=0)
    error = fetch_error(settings, site.url("/stall"), FetchTimeoutError)
    assert "ReadTimeout" in str(error)


def test_declared_oversized_body_is_refused_before_reading(site: FixtureSite) -> None:
    error = fetch_error(make_settings(), site.url("/big"), ResponseTooLargeError)
    assert error.code == "too_large" and "declares" in str(error)


def test_streamed_oversized_body_is_cut_off(site: FixtureSite) -> None:
    error = fetch_error(make_settings(), site.url("/big-stream"), ResponseTooLargeError)
    assert "sent more than" in str(error)


@pytest.mark.parametrize("path", ["/bomb.gz", "/bomb.br"])
def test_compression_bombs_fail_without_eating_memory(site: FixtureSite, path: str) -> None:
    fetch(make_settings(max_decompressed_bytes=100 * MiB), site.url("/ok.html"))  # warm up
    gzip_bomb()  # build the (cached) payload outside the measurement
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError) as caught:
            fetch(make_settings(), site.url(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "decompresses" in str(caught.value)
    assert peak < 20 * MiB  # the bomb expands to 128 MiB


def test_corrupt_gzip_is_a_content_error(site: FixtureSite) -> None:
    error = fetch_error(make_settings(), site.url("/corrupt.gz"), ContentTypeError)
    assert "corrupt gzip" in str(error)


def test_decode_body_edge_cases() -> None:
    two_members = zlib.compress(b"abc", wbits=31) + zlib.compress(b"def", wbits=31)
    assert decode_body(two_members, "gzip", 100) == b"abcdef"
    raw_deflate = zlib.compressobj(wbits=-15)
    assert decode_body(raw_deflate.compress(b"raw") + raw_deflate.flush(), "deflate", 10) == b"raw"
    assert decode_body(brotli.compress(b"x" * 50), "br", 50) == b"x" * 50
    with pytest.raises(ResponseTooLargeError):
        decode_body(brotli.compress(b"x" * 51), "br", 50)
    with pytest.raises(ResponseTooLargeError):
        decode_body(b"x" * 11, None, 10)
    with pytest.raises(ContentTypeError):
        decode_body(b"abc", "zstd", 10)
    with pytest.raises(ContentTypeError):
        decode_body(zlib.compress(b"abc" * 100, wbits=31)[:-12], "gzip", 1000)  # truncated


# --------------------------------------------------------------------------- content types


def test_pdf_is_not_html_but_is_any(site: FixtureSite) -> None:
    error = fetch_error(make_settings(), site.url("/doc.pdf"), ContentTypeError)
    assert "application/pdf" in str(error)
    assert (
        fetch(make_settings(), site.url("/doc.pdf"), kind="any").content_type == "application/pdf"
    )


def test_html_is_not_a_feed(site: FixtureSite) -> None:
    fetch_error(make_settings(), site.url("/ok.html"), ContentTypeError, kind="feed")
    assert fetch(make_settings(), site.url("/feed.xml"), kind="feed").body == FEED_XML


def test_unknown_kind_is_a_programming_error(site: FixtureSite) -> None:
    with pytest.raises(ValueError):
        fetch(make_settings(), site.url("/ok.html"), kind="pdf")


def test_fetcher_must_be_entered() -> None:
    with pytest.raises(RuntimeError):
        asyncio.run(Fetcher(make_settings(respect_robots=False)).fetch("http://127.0.0.1:9/"))


# --------------------------------------------------------------------------- redirects


def test_redirects_are_followed(site: FixtureSite) -> None:
    page = fetch(make_settings(), site.url("/redirect/ok"))
    assert page.url == site.url("/redirect/ok") and page.final_url == site.url("/ok.html")
    relative = fetch(make_settings(), site.url("/redirect/relative"))
    assert relative.final_url == site.url("/ok.html")


def test_redirect_loop(site: FixtureSite) -> None:
    error = fetch_error(make_settings(max_redirects=5), site.url("/loop/a"), TooManyRedirectsError)
    assert error.code == "redirects" and "/loop/b" in str(error)
    assert site.count("/loop/a") + site.count("/loop/b") == 6


@pytest.mark.parametrize(
    ("path", "address"),
    [("/redirect/metadata", "169.254.169.254"), ("/redirect/private", "10.0.0.1")],
)
def test_redirect_to_internal_address_is_refused_without_connecting(
    site: FixtureSite, dialled: list[str], path: str, address: str
) -> None:
    error = fetch_error(make_settings(), site.url(path), BlockedURLError)
    assert error.code == "blocked" and address in str(error)
    assert f"redirected from {site.url(path)}" in str(error)
    assert set(dialled) == {"127.0.0.1"}


# --------------------------------------------------------------------------- SSRF guard


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "127.1",
        "2130706433",
        "0x7f.1",
        "0.0.0.0",
        "127.0.0.1",
        "[::ffff:127.0.0.1]",
        "127.0.0.1.",  # a trailing dot: the same address, refused, not "cannot resolve"
        "127.1.",
        "0x7f.1.",
    ],
)
def test_loopback_in_disguise_is_refused(site: FixtureSite, dialled: list[str], host: str) -> None:
    url = f"http://{host}:{site.port}/ok.html"
    error = fetch_error(make_settings(allowed_hosts=[]), url, BlockedURLError)
    assert "allowed_hosts" in str(error) and not error.retryable
    assert dialled == [] and site.requests() == []


def test_a_trailing_dot_address_is_fetched_when_allowed(site: FixtureSite) -> None:
    page = fetch(
        make_settings(allowed_hosts=["127.0.0.0/8"]), f"http://127.0.0.1.:{site.port}/ok.html"
    )
    assert page.body == OK_HTML


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:70/", "http://", "::"]
)
def test_other_schemes_are_refused(url: str) -> None:
    fetch_error(make_settings(), url, BlockedURLError)


def test_allowed_name_connects_to_the_checked_address(
    site: FixtureSite, dialled: list[str]
) -> None:
    settings = make_settings(allowed_hosts=["localhost"])
    page = fetch(settings, f"http://localhost:{site.port}/ok.html")
    assert page.body == OK_HTML
    assert "localhost" not in dialled and "127.0.0.1" in dialled


def test_dns_is_resolved_once_so_rebinding_cannot_redirect_the_connection(
    site: FixtureSite, dialled: list[str]
) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    calls: list[str] = []

    async def rebinding_resolver(host: str) -> list[str]:
        calls.append(host)
        return next(answers)

    async def twice(fetcher: Fetcher) -> list[FetchedPage]:
        url = f"http://rebind.test:{site.port}/ok.html"
        return [await fetcher.fetch(url), await fetcher.fetch(url)]

    pages = with_fetcher(make_settings(), twice, resolver=rebinding_resolver)
    assert [page.body for page in pages] == [OK_HTML, OK_HTML]
    assert calls == ["rebind.test"]
    assert set(dialled) == {"127.0.0.1"}
    assert site.requests("/ok.html")[0].headers["host"] == f"rebind.test:{site.port}"


@pytest.mark.parametrize("name", ["straße.test", "ｓｔｒａßｅ.test", "STRAßE.test"])
def test_an_international_host_is_fetched_under_its_uts46_name_as_identity_names_it(
    site: FixtureSite, name: str
) -> None:
    """The host resolved and sent in ``Host`` is the one ``normalize_url`` puts in the
    identity (UTS-46 ``xn--strae-oqa``, never IDNA 2003's ``strasse``)."""
    from newsledger.tasks.urls import normalize_url

    resolved: list[str] = []

    async def resolver(host: str) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    url = f"http://{name}:{site.port}/ok.html"
    identity = normalize_url(url)
    assert identity == f"http://xn--strae-oqa.test:{site.port}/ok.html"

    async def both(fetcher: Fetcher) -> list[FetchedPage]:
        return [await fetcher.fetch(url), await fetcher.fetch(identity)]

    pages = with_fetcher(make_settings(), both, resolver=resolver)
    assert [page.body for page in pages] == [OK_HTML, OK_HTML]
    assert set(resolved) == {"xn--strae-oqa.test"}
    hosts = {request.headers["host"] for request in site.requests("/ok.html")}
    assert hosts == {f"xn--strae-oqa.test:{site.port}"}


def test_any_private_answer_blocks_the_host(site: FixtureSite) -> None:
    async def mixed(host: str) -> list[str]:
        return ["127.0.0.1", "10.0.0.1"]

    with pytest.raises(BlockedURLError, match=r"10\.0\.0\.1, a private address"):
        with_fetcher(
            make_settings(),
            lambda fetcher: fetcher.fetch(f"http://mixed.test:{site.port}/ok.html"),
            resolver=mixed,
        )
    assert site.requests() == []


def test_transport_itself_refuses_unchecked_hosts(dialled: list[str]) -> None:
    """Even a request that skips Fetcher's URL check cannot reach a private address."""

    async def direct() -> None:
        guard = AddressGuard(make_settings(allowed_hosts=[]))
        async with httpx.AsyncClient(transport=GuardedTransport(guard, max_connections=2)) as c:
            await c.get("http://10.0.0.1/")

    with pytest.raises(BlockedURLError):
        asyncio.run(direct())
    assert dialled == []


# --------------------------------------------------------------------------- robots.txt


def test_robots_disallow_and_single_robots_fetch(site: FixtureSite) -> None:
    for index in range(6):
        site.set_page(f"/news/{index}.html", f"<html>{index}</html>")
    requests = [FetchRequest(site.url(f"/news/{index}.html")) for index in range(6)]
    requests.append(FetchRequest(site.url("/private/secret.html")))

    results = fetch_all(make_settings(), requests)

    assert all(isinstance(result, FetchedPage) for result in results[:6])
    assert isinstance(results[6], RobotsDisallowedError) and results[6].code == "robots"
    assert site.count("/robots.txt") == 1
    assert site.count("/private/secret.html") == 0


def _start_gaps(site: FixtureSite, prefix: str) -> list[float]:
    """Seconds between the starts of the requests under ``prefix``, as the server saw them."""
    starts = sorted(r.started for r in site.requests() if r.path.startswith(prefix))
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


# Server-side arrival times can be a little closer than the client's starts (the first request
# also opens the connection): a small allowance, far below the delays measured.
ARRIVAL_JITTER = 0.05


def test_robots_crawl_delay_spaces_requests_to_the_host(site: FixtureSite) -> None:
    site.set_robots("User-agent: *\nCrawl-delay: 0.4\nDisallow: /private/\n")
    for index in range(4):
        site.set_page(f"/paced/{index}.html", f"<html>{index}</html>")
    settings = make_settings(per_host_delay_seconds=0.0, per_host_concurrency=4)
    results = fetch_all(settings, [FetchRequest(site.url(f"/paced/{i}.html")) for i in range(4)])
    assert all(isinstance(result, FetchedPage) for result in results)
    gaps = _start_gaps(site, "/paced/")
    assert len(gaps) == 3 and min(gaps) >= 0.4 - ARRIVAL_JITTER, gaps
    # robots.txt itself came first, and the first page waited the delay after it too
    (robots,) = site.requests("/robots.txt")
    first_page = min(r.started for r in site.requests() if r.path.startswith("/paced/"))
    assert first_page - robots.started >= 0.4 - ARRIVAL_JITTER


def test_a_long_crawl_delay_is_capped_and_ignored_without_robots(site: FixtureSite) -> None:
    site.set_robots("User-agent: *\nCrawl-delay: 3600\n")
    for index in range(3):
        site.set_page(f"/capped/{index}.html", f"<html>{index}</html>")
    settings = make_settings(
        per_host_delay_seconds=0.0, per_host_concurrency=4, max_crawl_delay_seconds=0.3
    )
    fetch_all(settings, [FetchRequest(site.url(f"/capped/{i}.html")) for i in range(3)])
    gaps = _start_gaps(site, "/capped/")
    # the cap, not an hour: at least 0.3 s apart, and far less than the stated delay
    assert len(gaps) == 2 and min(gaps) >= 0.3 - ARRIVAL_JITTER and max(gaps) < 3600 / 2, gaps
    site.clear_log()
    fetch_all(
        make_settings(per_host_delay_seconds=0.0, respect_robots=False),
        [FetchRequest(site.url(f"/capped/{i}.html")) for i in range(3)],
    )
    assert site.requests("/robots.txt") == []  # not asked, so no Crawl-delay either
    assert len(site.requests()) == 3


def test_the_delay_counts_from_a_recent_request_of_another_fetcher(site: FixtureSite) -> None:
    """``recent_requests`` (the ledger's last fetch of a host) spaces a new Fetcher's first
    request from it, as from one of its own."""
    site.set_page("/next.html", "<html>next</html>")
    settings = make_settings(per_host_delay_seconds=0.5, respect_robots=False)
    (first,) = fetch_all(settings, [FetchRequest(site.url("/next.html"))])
    assert isinstance(first, FetchedPage)
    fetch_all(
        settings,
        [FetchRequest(site.url("/next.html"))],
        recent_requests={"127.0.0.1": first.fetched_at},
    )
    (gap,) = _start_gaps(site, "/next.html")
    assert gap >= 0.5 - ARRIVAL_JITTER


def test_robots_can_be_ignored(site: FixtureSite) -> None:
    page = fetch(make_settings(respect_robots=False), site.url("/private/secret.html"))
    assert page.status == 200 and site.count("/robots.txt") == 0


@pytest.mark.parametrize(("status", "noted"), [(404, False), (403, False), (500, True)])
def test_unreadable_robots_allows_all(status: int, noted: bool) -> None:
    with FixtureSite() as bare:
        bare.set_page("/page.html", OK_HTML)
        bare.route("/robots.txt", lambda request: Reply(status=status, body=b"no"))

        async def go(fetcher: Fetcher) -> tuple[FetchedPage, dict[str, str]]:
            return await fetcher.fetch(bare.url("/page.html")), fetcher.robots_unavailable

        page, unavailable = with_fetcher(make_settings(), go)
        assert page.body == OK_HTML
        assert bool(unavailable) is noted
        assert bare.count("/robots.txt") == 1  # robots.txt is not retried


def test_robots_cache_is_used_and_filled(site: FixtureSite) -> None:
    """Rules given in a RobotsCache are used without asking the origin; rules fetched are
    handed back in ``fetched`` (4xx as allow-all); an unavailable robots.txt is not."""
    site.set_page("/news/1.html", OK_HTML)
    cache = RobotsCache()
    results = fetch_all(make_settings(), [FetchRequest(site.url("/news/1.html"))], cache)
    assert isinstance(results[0], FetchedPage) and site.count("/robots.txt") == 1
    (record,) = cache.fetched.values()
    assert record.origin == origin_of(site.url("/")) == site.base_url
    assert record.status == 200 and "Disallow: /private/" in (record.body or "")

    # Known rules: no robots.txt request, and they are obeyed (this one disallows /news/).
    known = RobotsRecord(record.origin, 200, "User-agent: *\nDisallow: /news/\n", record.fetched_at)
    again = RobotsCache([known])
    results = fetch_all(make_settings(), [FetchRequest(site.url("/news/1.html"))], again)
    assert isinstance(results[0], RobotsDisallowedError)
    assert site.count("/robots.txt") == 1 and again.fetched == {}

    with FixtureSite() as bare:
        bare.set_page("/page.html", OK_HTML)
        for status, cached in ((404, True), (503, False)):
            bare.route("/robots.txt", lambda request, status=status: Reply(status=status))
            cache = RobotsCache()
            fetch_all(make_settings(max_retries=0), [FetchRequest(bare.url("/page.html"))], cache)
            if cached:
                (record,) = cache.fetched.values()
                assert (record.status, record.body) == (404, None)  # allow all
            else:
                assert cache.fetched == {}  # asked again next time


def test_conditional_requests_reuse_one_connection(site: FixtureSite) -> None:
    """A 304 (or a redirect) carries no body we use; it is read anyway, so the connection
    goes back to the pool instead of being closed and dialled again."""
    site.set_page("/news/1.html", OK_HTML)
    site.add_redirect("/old.html", "/news/1.html")
    etag = site.page_etag("/news/1.html")
    settings = make_settings(per_host_concurrency=1)

    async def go(fetcher: Fetcher) -> list[FetchedPage]:
        pages = [await fetcher.fetch(site.url("/news/1.html"), etag=etag) for _ in range(5)]
        pages.append(await fetcher.fetch(site.url("/old.html")))
        return pages

    pages = with_fetcher(settings, go)
    assert [p.status for p in pages] == [304] * 5 + [200]
    requests = site.requests()
    assert len(requests) == 8  # robots.txt, five 304s, the redirect and its target
    assert len({r.client_port for r in requests}) == 1


# --------------------------------------------------------------------------- politeness


def test_per_host_concurrency_limit(site: FixtureSite) -> None:
    site.route("/slow/", lambda request: Reply(body=OK_HTML), prefix=True, delay_seconds=0.3)
    settings = make_settings(per_host_concurrency=2, respect_robots=False)
    results = fetch_all(settings, [FetchRequest(site.url(f"/slow/{i}")) for i in range(6)])
    assert all(isinstance(result, FetchedPage) for result in results)
    assert site.max_in_flight("/slow/") == 2


def test_global_concurrency_limit(site: FixtureSite) -> None:
    site.route("/slow/", lambda request: Reply(body=OK_HTML), prefix=True, delay_seconds=0.2)
    settings = make_settings(per_host_concurrency=10, global_concurrency=3, respect_robots=False)
    results = fetch_all(settings, [FetchRequest(site.url(f"/slow/{i}")) for i in range(7)])
    assert all(isinstance(result, FetchedPage) for result in results)
    assert site.max_in_flight("/slow/") <= 3


def test_different_hosts_proceed_concurrently(site: FixtureSite) -> None:
    site.route("/a/", lambda request: Reply(body=OK_HTML), prefix=True, delay_seconds=0.3)
    site.route("/b/", lambda request: Reply(body=OK_HTML), prefix=True, delay_seconds=0.3)
    settings = make_settings(
        allowed_hosts=["127.0.0.1", "localhost"], per_host_concurrency=1, respect_robots=False
    )
    requests = [FetchRequest(site.url(f"/a/{i}")) for i in range(3)] + [
        FetchRequest(f"http://localhost:{site.port}/b/{i}") for i in range(3)
    ]
    results = fetch_all(settings, requests)
    assert all(isinstance(result, FetchedPage) for result in results)
    assert site.max_in_flight("/a/") == 1 and site.max_in_flight("/b/") == 1
    assert site.max_in_flight("/") == 2


def test_host_gate_spaces_request_starts() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def three_starts() -> None:
        gate = HostGate(concurrency=5, delay=1.5, clock=lambda: 100.0, sleep=fake_sleep)
        for _ in range(3):
            async with gate.slot():
                pass

    asyncio.run(three_starts())
    assert slept == [1.5, 3.0]  # the first starts at once, then one every 1.5 s


# --------------------------------------------------------------------------- batches


def test_fetch_many_keeps_input_order_and_returns_errors(site: FixtureSite) -> None:
    requests = [
        FetchRequest(site.url("/ok.html")),
        FetchRequest(site.url("/missing.html")),
        FetchRequest("http://10.0.0.1/"),
        FetchRequest(site.url("/feed.xml"), kind="feed"),
        FetchRequest(site.url("/doc.pdf")),
    ]
    results = fetch_all(make_settings(), requests)
    assert [type(result) for result in results] == [
        FetchedPage,
        HTTPStatusError,
        BlockedURLError,
        FetchedPage,
        ContentTypeError,
    ]
    assert isinstance(results[3], FetchedPage) and results[3].body == FEED_XML


# --------------------------------------------------------------------------- https


def _tls_contexts(tmp_path: Any, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a certificate for ``host``, client context trusting its CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def certificate(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> Any:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_cert = certificate("fixture CA", ca_key, "fixture CA", ca_key, ca=True)
    leaf_cert = certificate(host, leaf_key, "fixture CA", ca_key, ca=False)
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(
        cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    )
    return server, client


def test_https_goes_to_the_pinned_address_with_the_real_name_for_sni_and_checks(
    tmp_path: Any, dialled: list[str]
) -> None:
    server_context, client_context = _tls_contexts(tmp_path, "pinned.test")

    async def resolver(host: str) -> list[str]:
        return ["127.0.0.1"]

    with FixtureSite(ssl_context=server_context) as tls_site:
        tls_site.set_page("/ok.html", OK_HTML)
        url = f"https://pinned.test:{tls_site.port}/ok.html"
        page = with_fetcher(
            make_settings(respect_robots=False),
            lambda fetcher: fetcher.fetch(url),
            resolver=resolver,
            ssl_context=client_context,
        )
        assert page.body == OK_HTML and page.final_url == url
        assert dialled == ["127.0.0.1"]

        # The certificate is still checked against the name: another name fails.
        wrong = f"https://other.test:{tls_site.port}/ok.html"
        with pytest.raises(ConnectionFailedError, match="certificate verify failed") as caught:
            with_fetcher(
                make_settings(respect_robots=False, max_retries=2),
                lambda fetcher: fetcher.fetch(wrong),
                resolver=resolver,
                ssl_context=client_context,
            )
        assert not caught.value.retryable  # a bad certificate is not retried
        assert tls_site.count("/ok.html") == 1
