"""The web commands of the ``newsledger`` CLI, run as real subprocesses against a real HTTP
server on 127.0.0.1 (tests/fixture_site.py) and a real DuckDB file.

``--local`` keeps every command in-process (no Prefect server); the settings come from the
environment exactly as a user would give them (``NEWSLEDGER_ALLOWED_HOSTS`` …).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fixture_site import FixtureSite

pytestmark = pytest.mark.slow

PARAGRAPHS = (
    "The harbour authority confirmed on Monday that the old pier will close for repairs.",
    "Engineers found corrosion in the steel supports during a routine inspection last week.",
    "Local fishermen said the closure would force them to unload at the northern quay.",
    "The authority expects the work to take about six months and to cost four million euros.",
)


def article(title: str, note: str = "") -> str:
    body = "".join(f"<p>{title}: {p} {note}</p>" for p in PARAGRAPHS for _ in range(2))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    )


@pytest.fixture
def news(tmp_path: Path) -> Iterator[tuple[FixtureSite, Path]]:
    """A site with three articles in an RSS feed, and a feed list pointing at it."""
    with FixtureSite() as site:
        site.install_standard_routes()
        links = []
        for i in range(3):
            site.set_page(f"/news/{i}.html", article(f"Harbour story {i}"))
            links.append(site.url(f"/news/{i}.html"))
        items = "".join(
            f"<item><title>Story {i}</title><link>{link}?utm_source=rss</link></item>"
            for i, link in enumerate(links)
        )
        site.set_page(
            "/rss.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            f"feeds:\n  - name: Harbour news\n    url: {site.url('/rss.xml')}\n    interval: 5m\n",
            encoding="utf-8",
        )
        yield site, feeds


def cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "NEWSLEDGER_ALLOWED_HOSTS": "127.0.0.1",
        "NEWSLEDGER_PER_HOST_DELAY_SECONDS": "0",
        "NEWSLEDGER_BACKOFF_BASE_SECONDS": "0.01",
        "NEWSLEDGER_BACKOFF_MAX_SECONDS": "0.05",
        "NEWSLEDGER_MAX_RETRIES": "1",
        "NEWSLEDGER_READ_TIMEOUT": "1",
        "NEWSLEDGER_TOTAL_TIMEOUT": "2",
        "NEWSLEDGER_PREFECT_HOME": str(tmp_path / ".prefect"),
        "PREFECT_HOME": str(tmp_path / ".prefect"),
        "COLUMNS": "250",  # rich tables wide enough to keep a URL on one line
    }
    environment.update(env or {})
    environment.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "newsledger.flows.cli", "--db", str(tmp_path / "l.duckdb"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
    )


def query(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_poll_then_refresh_all_makes_revision_2(
    news: tuple[FixtureSite, Path], tmp_path: Path
) -> None:
    site, feeds = news

    polled = cli(tmp_path, "poll", "--feeds", str(feeds), "--local")

    assert polled.returncode == 0, polled.stderr
    assert "Harbour news" in polled.stdout and "ok" in polled.stdout
    assert query(tmp_path, "SELECT identity, revision FROM latest_revisions ORDER BY 1") == [
        (site.url(f"/news/{i}.html"), 1) for i in range(3)
    ]
    assert query(tmp_path, "SELECT name, last_status FROM feeds") == [("Harbour news", 200)]

    site.set_page("/news/1.html", article("Harbour story 1", "The minister visited the pier."))
    refreshed = cli(tmp_path, "refresh", "--all", "--local")

    assert refreshed.returncode == 0, refreshed.stderr
    assert query(
        tmp_path, "SELECT identity, max(revision) FROM article_history GROUP BY 1 ORDER BY 1"
    ) == [
        (site.url("/news/0.html"), 1),
        (site.url("/news/1.html"), 2),
        (site.url("/news/2.html"), 1),
    ]
    assert site.requests("/news/0.html")[-1].headers.get("if-none-match")  # conditional
    # The numbers printed are the run's: 1 revised, 2 unchanged.
    summary = refreshed.stdout.split("ingest summary", 1)[1].splitlines()[-1]
    assert summary.replace("│", " ").split() == ["0", "1", "2", "0", "0"], refreshed.stdout


def test_ingest_url_and_failures_lists_the_reason(
    news: tuple[FixtureSite, Path], tmp_path: Path
) -> None:
    site, _ = news

    ok = cli(tmp_path, "ingest", site.url("/news/2.html"), "--local")
    assert ok.returncode == 0, ok.stderr
    assert "Harbour story 2" in ok.stdout  # the stored story is shown
    assert query(tmp_path, "SELECT count(*) FROM revisions") == [(1,)]

    failing = cli(
        tmp_path,
        "ingest",
        site.url("/always-500"),
        site.url("/private/secret.html"),
        site.url("/news/0.html"),
        "--local",
    )
    assert failing.returncode == 1  # something failed: not a success
    assert "always-500" in failing.stderr and "robots" in failing.stderr
    assert query(tmp_path, "SELECT count(*) FROM revisions") == [(2,)]  # the good one stored

    listed = cli(tmp_path, "failures")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines() if "http" in line}
    assert "http_500" in lines[site.url("/always-500")]
    assert "answered 500" in lines[site.url("/always-500")]
    assert "retry after" in lines[site.url("/always-500")]
    assert "robots.txt" in lines[site.url("/private/secret.html")]
    assert site.url("/news/0.html") not in lines


def test_malformed_feed_list_names_the_line(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        "  - name: Fine\n"
        "    url: http://127.0.0.1:9/fine.xml\n"
        "  - name: Broken\n"
        "    link: http://127.0.0.1:9/broken.xml\n",
        encoding="utf-8",
    )

    result = cli(tmp_path, "poll", "--feeds", str(feeds), "--local")

    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert f"{feeds}:4" in message, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "l.duckdb").exists() or query(
        tmp_path, "SELECT count(*) FROM fetches"
    ) == [(0,)]


def test_a_non_http_feed_url_rejects_only_its_entry(
    news: tuple[FixtureSite, Path], tmp_path: Path
) -> None:
    site, _ = news
    feeds = tmp_path / "mixed-feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        "  - name: Old FTP feed\n"
        "    url: ftp://127.0.0.1/rss.xml\n"
        "  - name: Harbour news\n"
        f"    url: {site.url('/rss.xml')}\n"
        "  - name: Script\n"
        "    url: javascript:alert(1)\n",
        encoding="utf-8",
    )

    result = cli(tmp_path, "poll", "--feeds", str(feeds), "--local")

    assert result.returncode == 1, result.stderr  # an input failed, the run went on
    assert "Traceback" not in result.stderr
    assert query(tmp_path, "SELECT count(*) FROM revisions") == [(3,)]  # the good feed polled
    failures = dict(query(tmp_path, "SELECT input, message FROM failures WHERE stage = 'feed'"))
    assert set(failures) == {"ftp://127.0.0.1/rss.xml", "javascript:alert(1)"}
    assert f"{feeds}:2: feed #1 ('Old FTP feed')" in failures["ftp://127.0.0.1/rss.xml"]
    assert "(line 3) is not an http(s) URL" in failures["ftp://127.0.0.1/rss.xml"]
    assert f"{feeds}:6: feed #3" in failures["javascript:alert(1)"]
    message = " ".join(result.stderr.split())
    assert "feed_rejected" in message and "line 3" in message
