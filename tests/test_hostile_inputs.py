"""Hostile redirects (issue 13, defects 2 and 6): one URL's bad redirect is that URL's
recorded failure, never the run's; credentials in a URL are never sent nor stored.

Real processes, a real DuckDB file and the fixture HTTP server on 127.0.0.1; no mocks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest
from fixture_site import FixtureSite
from newsledger.tasks.errors import BlockedURLError
from newsledger.tasks.fetch import Fetcher, FetchRequest, redact_userinfo
from newsledger.tasks.settings import Settings
from test_cli_web import article, cli

HOSTILE_LOCATIONS = {
    "/hostile/js": "javascript:alert(1)",
    "/hostile/data": "data:text/html,<p>hi</p>",
    "/hostile/bare": "http:x",
    "/hostile/creds": "http://user:s3cret@127.0.0.1:{port}/news/0.html",
}


def install_hostile(site: FixtureSite) -> None:
    for path, location in HOSTILE_LOCATIONS.items():
        site.add_redirect(path, location.format(port=site.port))


def settings() -> Settings:
    return Settings(
        allowed_hosts=["127.0.0.1"], per_host_delay_seconds=0.0, max_retries=0, total_timeout=2.0
    )


@pytest.mark.parametrize("path", sorted(HOSTILE_LOCATIONS))
def test_a_hostile_redirect_is_a_blocked_fetch_error(site: FixtureSite, path: str) -> None:
    install_hostile(site)
    site.set_page("/news/0.html", article("Story 0"))

    async def run() -> object:
        async with Fetcher(settings()) as fetcher:
            return (await fetcher.fetch_many([FetchRequest(url=site.url(path))]))[0]

    outcome = asyncio.run(run())

    assert isinstance(outcome, BlockedURLError), outcome
    assert "s3cret" not in str(outcome) and "user:" not in str(outcome)
    assert all("authorization" not in r.headers for r in site.requests())
    assert site.count("/news/0.html") == 0  # the credentialled URL is refused, not fetched


def test_a_url_with_credentials_is_refused_and_not_echoed(site: FixtureSite) -> None:
    site.set_page("/news/0.html", article("Story 0"))
    url = f"http://user:s3cret@127.0.0.1:{site.port}/news/0.html"

    async def run() -> object:
        async with Fetcher(settings()) as fetcher:
            return (await fetcher.fetch_many([FetchRequest(url=url)]))[0]

    outcome = asyncio.run(run())

    assert isinstance(outcome, BlockedURLError) and "credentials" in str(outcome)
    assert "s3cret" not in str(outcome)
    assert site.requests() == []
    assert redact_userinfo("see http://a:b@h/x and https://c@d/") == "see http://h/x and https://d/"


def test_a_poll_with_hostile_redirects_stores_the_good_feed_and_records_the_bad(
    tmp_path: Path,
) -> None:
    with FixtureSite() as site:
        site.install_standard_routes()
        install_hostile(site)
        good = []
        for i in range(2):
            site.set_page(f"/news/{i}.html", article(f"Harbour story {i}"))
            good.append(site.url(f"/news/{i}.html"))
        for name, links in {
            "/good.xml": good,
            "/bad.xml": [site.url(p) for p in sorted(HOSTILE_LOCATIONS)],
        }.items():
            items = "".join(f"<item><title>T</title><link>{link}</link></item>" for link in links)
            site.set_page(
                name,
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}'
                "</channel></rss>",
                content_type="application/rss+xml",
            )
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            "feeds:\n"
            f"  - name: Bad\n    url: {site.url('/bad.xml')}\n"
            f"  - name: Good\n    url: {site.url('/good.xml')}\n",
            encoding="utf-8",
        )

        polled = cli(tmp_path, "poll", "--feeds", str(feeds), "--local")

        assert "Traceback" not in polled.stderr, polled.stderr
        assert polled.returncode == 1, polled.stdout + polled.stderr
        conn = duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True)
        try:
            stored = conn.execute("SELECT identity FROM latest_revisions ORDER BY 1").fetchall()
            failed = conn.execute("SELECT input, error, message FROM failures").fetchall()
            final_urls = conn.execute("SELECT final_url FROM fetches").fetchall()
        finally:
            conn.close()
        assert stored == [(url,) for url in good]
        assert sorted(i for i, _, _ in failed) == sorted(site.url(p) for p in HOSTILE_LOCATIONS), (
            failed
        )
        assert {e for _, e, _ in failed} == {"blocked"}
        assert "s3cret" not in repr(failed) + repr(final_urls)
        assert all("authorization" not in r.headers for r in site.requests())


def test_every_entry_of_a_feed_is_stored_skipped_with_a_reason_or_failed(tmp_path: Path) -> None:
    """42 entries: 30 articles, 7 non-http links (5 without and 2 with a guid), 3 guids that
    repeat with a different link, 2 repeated links. Each one ends in the ledger."""
    with FixtureSite() as site:
        site.install_standard_routes()
        items = []
        for i in range(30):
            site.set_page(f"/news/{i}.html", article(f"Harbour story {i}"))
            items.append(f"<guid>g{i}</guid><link>{site.url(f'/news/{i}.html')}</link>")
        for link in (
            "javascript:alert(1)",
            "mailto:desk@x.org",
            "ftp://x.org/a",
            "data:,x",
            "tel:1",
        ):
            items.append(f"<link>{link}</link>")
        items += [
            f"<guid isPermaLink='false'>js{i}</guid><link>javascript:go({i})</link>"
            for i in range(2)
        ]
        items += [f"<guid>g{i}</guid><link>{site.url(f'/other/{i}.html')}</link>" for i in range(3)]
        items += [f"<link>{site.url(f'/news/{i}.html')}</link>" for i in range(2)]
        assert len(items) == 42
        body = "".join(f"<item><title>Item {n}</title>{x}</item>" for n, x in enumerate(items))
        site.set_page(
            "/big.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{body}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - name: Big\n    url: {site.url('/big.xml')}\n", "utf-8")

        polled = cli(tmp_path, "poll", "--feeds", str(feeds), "--local")

        assert polled.returncode == 0, polled.stdout + polled.stderr
        conn = duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True)
        try:
            counts = conn.execute(
                "SELECT new_count, revised_count, unchanged_count, failed_count, skipped_count "
                "FROM ingest_runs"
            ).fetchall()
            reasons = conn.execute(
                "SELECT reason, count(*) FROM feed_skips GROUP BY 1 ORDER BY 1"
            ).fetchall()
            guid_messages = conn.execute(
                "SELECT message FROM feed_skips WHERE reason = 'duplicate_guid'"
            ).fetchall()
        finally:
            conn.close()
        assert counts == [(30, 0, 0, 0, 12)]
        assert sum(counts[0]) == 42
        assert reasons == [("duplicate_guid", 3), ("duplicate_link", 2), ("unsupported_scheme", 7)]
        assert all("/other/" in m and "/news/" in m for (m,) in guid_messages), guid_messages


def test_a_refusal_by_policy_is_recorded_once_and_retried_only_when_the_policy_changes(
    tmp_path: Path,
) -> None:
    with FixtureSite() as site:
        site.install_standard_routes()
        site.set_robots("User-agent: *\nDisallow: /private/\n")
        site.set_page("/news/0.html", article("Harbour story 0"))
        site.set_page("/private/1.html", article("Harbour story 1"))
        links = [site.url("/news/0.html"), site.url("/private/1.html")]
        items = "".join(f"<item><title>T</title><link>{link}</link></item>" for link in links)
        site.set_page(
            "/rss.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - name: F\n    url: {site.url('/rss.xml')}\n", "utf-8")

        def failures() -> list[tuple[object, ...]]:
            conn = duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True)
            try:
                return conn.execute("SELECT input, error FROM failures").fetchall()
            finally:
                conn.close()

        polled = cli(tmp_path, "poll", "--feeds", str(feeds), "--local")
        assert polled.returncode == 1, polled.stdout + polled.stderr  # recorded once
        assert failures() == [(site.url("/private/1.html"), "robots")]

        for _ in range(2):
            refreshed = cli(tmp_path, "refresh", "--all", "--local")
            assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
            retried = cli(tmp_path, "retry", "--local")
            assert retried.returncode == 0, retried.stdout + retried.stderr
        assert failures() == [(site.url("/private/1.html"), "robots")]
        report = cli(tmp_path, "failures")
        assert "refused by policy, not retried" in report.stdout, report.stdout

        # The policy changes (robots.txt no longer respected): the URL is due again.
        changed = cli(
            tmp_path, "refresh", "--local", "--all", env={"NEWSLEDGER_RESPECT_ROBOTS": "false"}
        )
        assert changed.returncode == 0, changed.stdout + changed.stderr
        conn = duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True)
        try:
            stored = conn.execute("SELECT identity FROM latest_revisions ORDER BY 1").fetchall()
        finally:
            conn.close()
        assert stored == [(url,) for url in links]
