"""The web view (`newsledger web`), its Atom feeds and the Python API, over a real ledger built
by real ingests: a real uvicorn server (the CLI command, in its own process) on 127.0.0.1,
HTTP checks of every page and its JSON twin, feedparser and an RFC 4287 check of every feed,
and Debian's Chromium driven headless by Playwright (filter, open a story, switch the diff
view, follow the Atom link; a hostile story must run nothing). One browser per module."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from ledger_stories import build_story_ledger, ingest, write_story
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "seeds" / "articles" / "cnn-2025-09-02-idf-chief-netanyahu.txt"
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE_TITLE = '<script>window.__pwned = "title"</script><img src=x onerror="window.__pwned=1">'
HOSTILE_TEXT = [
    'Click <a href="javascript:window.__pwned=2">here</a> <svg onload="window.__pwned=3">.',
    '<script>window.__pwned = "text"</script><b onmouseover="window.__pwned=4">bold</b> '
    "with a control character \x01 inside.",
]
UPDATE_NOTE = "This story has been updated with comments from the reservists."

pytestmark = pytest.mark.slow


@dataclass
class Site:
    settings: Settings
    folder: Path
    base: str
    alpha: str
    beta: str
    hostile: str
    seed: str


def _article_id(settings: Settings, identity: str) -> str:
    from ledger_stories import query

    ((article_id,),) = query(
        settings, "SELECT article_id FROM articles WHERE identity = ?", [identity]
    )
    return str(article_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("webview")
    settings = Settings(db=root / "ledger.duckdb", prefect_home=root / ".prefect")
    folder = root / "stories"
    ledger = build_story_ledger(settings, folder)
    write_story(
        folder,
        "hostile.txt",
        title=HOSTILE_TITLE,
        paragraphs=HOSTILE_TEXT,
        authors='<b onmouseover="window.__pwned=5">Eve</b>',
        outlet="<i>Evil</i> Times",
    )
    seed = folder / "seed" / SEED.name
    seed.parent.mkdir()
    shutil.copy(SEED, seed)
    (folder / "empty.txt").write_bytes(b"")  # a failure: an empty file
    summary = ingest_paths([str(folder)], settings)
    assert summary.failed == 1, summary.failures
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("Tens of thousands", "Many tens of thousands")
        + f"\n{UPDATE_NOTE}\n",
        encoding="utf-8",
    )
    (folder / "empty.txt").unlink()
    ingest(settings, folder)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsledger.flows.cli",
            "--db",
            str(settings.db),
            "web",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        yield Site(
            settings,
            folder,
            match.group(1),
            ledger.alpha,
            ledger.beta,
            _article_id(settings, "file:hostile.txt"),
            _article_id(settings, f"file:seed/{SEED.name}"),
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(site: Site, path: str, status: int = 200) -> httpx.Response:
    response = httpx.get(site.base + path, timeout=30, follow_redirects=True)
    assert response.status_code == status, (path, response.text[:500])
    return response


def test_every_page_and_its_json_twin(site: Site) -> None:
    pages = {
        "/stories": lambda d: (
            {s["article_id"] for s in d["stories"]}
            == {site.alpha, site.beta, site.hostile, site.seed}
        ),
        "/stories?outlet=CNN&headline_changed=1": lambda d: (
            [s["article_id"] for s in d["stories"]] == [site.alpha]
        ),
        "/stories?q=bridge": lambda d: (
            [s["article_id"] for s in d["stories"]] == [site.beta]
            and "bridge" in d["stories"][0]["search"]["highlights"]
        ),
        "/stories?hours=1&per_page=2": lambda d: (
            d["total"] == 4 and d["pages"] == 2 and len(d["stories"]) == 2
        ),
        "/stories?hours=1&per_page=2&page=2": lambda d: len(d["stories"]) == 2,
        "/stories?language=xx": lambda d: d["total"] == 0,
        f"/story/{site.alpha}": lambda d: (
            [r["revision"] for r in d["revisions"]] == [1, 2, 3]
            and d["diff"]["from"]["revision"] == 2
            and d["diff"]["to"]["revision"] == 3
            and d["revisions"][2]["authors"] == ["Ann Lee", "Cy Diaz"]
        ),
        f"/story/{site.alpha}/diff/1/3": lambda d: (
            {f["field"] for f in d["diff"]["fields"]} == {"title", "authors", "modified"}
        ),
        f"/story/{site.seed}": lambda d: (
            UPDATE_NOTE in d["diff"]["update_notes"]
            and any(row["note"] for row in d["diff"]["side_by_side"])
            and {"kind": "added", "text": "Many tens"} in d["diff"]["inline"]
        ),
        "/headlines": lambda d: (
            [(h["old_title"], h["new_title"]) for h in d["headline_changes"]]
            == [("Ceasefire talks resume in Doha", "Ceasefire talks collapse")]
        ),
        "/failures": lambda d: (
            [f["error"] for f in d["failures"]] == ["empty"]
            and d["failures"][0]["recovered"] is False
        ),
        "/stats": lambda d: (
            d["totals"]["stories"] == 4
            and sum(r["new_stories"] + r["edits"] for r in d["revisions_per_day"]) == 7
        ),
    }
    for path, check in pages.items():
        html = get(site, path)
        assert html.headers["content-type"].startswith("text/html")
        assert "script-src" not in html.headers["content-security-policy"]  # none allowed
        data = get(site, "/api" + path).json()
        assert check(data), (path, data)
    story_page = get(site, f"/story/{site.alpha}/diff/1/3?view=side").text
    assert "<del>resume in Doha</del>" in story_page and "<ins>collapse</ins>" in story_page
    assert 'id="diff-side"' in story_page
    inline = get(site, f"/story/{site.alpha}/diff/1/3").text
    assert 'id="diff-inline"' in inline and "<ins>broke down</ins>" in inline
    assert "<svg" in get(site, "/stats").text
    assert get(site, "/").url.path == "/stories"  # the home page is the story list
    assert get(site, "/story/ffffffffffff", 404)
    assert get(site, "/api/story/ffffffffffff", 404).json()["status"] == 404
    assert "whole number" in get(site, "/api/stories?page=x", 400).json()["error"]
    assert get(site, f"/api/story/{site.alpha}/diff/1/9", 404)


def test_concurrent_requests_all_answer(site: Site) -> None:
    """Requests served at the same time (the server's thread pool) each open their own
    connection; DuckDB shares one database instance between a process's connections to a
    file, so none may change or need a configuration the others do not have (a search, the
    stats and the story pages at once, each twice, several rounds)."""
    paths = [
        "/api/stories?q=bridge",
        "/api/stats",
        "/api/stories",
        f"/api/story/{site.alpha}",
        "/stories?q=ceasefire",
        "/feeds/all.atom",
        "/stats",
        f"/story/{site.seed}",
    ] * 2

    def status(path: str) -> tuple[str, int, str]:
        response = httpx.get(site.base + path, timeout=60)
        return path, response.status_code, response.text[:200]

    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        for _round in range(3):
            answers = list(pool.map(status, paths))
            assert [a for a in answers if a[1] != 200] == []


def test_hostile_text_is_escaped(site: Site) -> None:
    for path in (f"/story/{site.hostile}", "/stories", f"/story/{site.hostile}?view=side"):
        body = get(site, path).text
        assert "<script>" not in body and "onerror=" not in body.replace("onerror=&#34;", "")
        assert "&lt;script&gt;" in body
        assert 'href="javascript:' not in body


def _check_atom(body: bytes) -> list[ET.Element]:
    """RFC 4287's rules for what a feed and its entries must contain."""
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{required}")) == 1, required
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    feed_author = feed.find(f"{ATOM}author/{ATOM}name") is not None
    entries = feed.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(ids) == len(set(ids))
    for entry in entries:
        for required in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{required}")) == 1, required
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated", "").replace("Z", "+00:00"))
        assert feed_author or entry.find(f"{ATOM}author/{ATOM}name") is not None
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None
        assert entry.find(f"{ATOM}content").get("type") == "html"  # type: ignore[union-attr]
    return entries


def test_atom_feeds(site: Site) -> None:
    feeds = {
        "/feeds/all.atom": 7,
        "/feeds/outlet/CNN.atom": 5,
        "/feeds/outlet/BBC%20News.atom": 1,
        f"/feeds/story/{site.alpha}.atom": 3,
        "/feeds/search.atom?q=doha": 3,
    }
    for path, count in feeds.items():
        response = get(site, path)
        assert response.headers["content-type"].startswith("application/atom+xml")
        parsed: Any = feedparser.parse(response.content)
        assert not parsed.bozo, (path, parsed.bozo_exception)
        assert len(parsed.entries) == count, path
        assert len(_check_atom(response.content)) == count
    parsed = feedparser.parse(get(site, f"/feeds/story/{site.alpha}.atom").content)
    newest = parsed.entries[0]
    assert newest.link == f"{site.base}/story/{site.alpha}/diff/2/3"
    content = newest.content[0].value
    assert "<ins>" in content and "A spokesperson said" in content
    hostile = get(site, "/feeds/all.atom").content
    assert b"\x01" not in hostile and not feedparser.parse(hostile).bozo


def test_ingest_runs_while_the_server_is_up(site: Site) -> None:
    """The server holds no connection between requests: an ingest can write meanwhile."""
    get(site, f"/story/{site.beta}")
    write_story(
        site.folder,
        "beta.txt",
        title="Floods close the old bridge",
        paragraphs=["Flooding closed the main bridge on Sunday.", "It reopens next week."],
        authors="Bo Chen",
        outlet="BBC News",
    )
    ingest(site.settings, site.folder)
    data = get(site, f"/api/story/{site.beta}").json()
    assert [r["revision"] for r in data["revisions"]] == [1, 2]


def test_python_api(site: Site) -> None:
    import newsledger

    ledger = newsledger.open(site.settings.db)
    stories = ledger.stories(outlet="CNN", headline_changed=True)
    assert [row[0] for row in stories.fetchall()] == [site.alpha]
    history = ledger.history(site.alpha)
    assert [row[0] for row in history.fetchall()] == [1, 2, 3]
    diff = ledger.diff(site.alpha, 1, 3)
    assert isinstance(diff, newsledger.StoryDiff)
    assert "[-resume in Doha-]" in str(diff) or "resume in Doha → " in str(diff)
    assert [hit.article_id for hit in ledger.search("bridge")] == [site.beta]
    assert ledger.as_of("2000-01-01T00:00:00+00:00").fetchall() == []
    assert ledger.sql(
        "select count(*) from articles where identity like $p", p="file:%"
    ).fetchone() == (4,)
    with pytest.raises(newsledger.QueryError, match="read-only"):
        ledger.sql("create table x (a int)")


def test_in_chromium(site: Site, tmp_path: Path) -> None:
    """Filter the story list, open a story, switch the diff view, follow the Atom link; a
    hostile story runs nothing. Screenshots go to a temporary folder on failure; the story
    page of the seed story is saved for the README when NEWSLEDGER_SCREENSHOT names a file."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            page.goto(site.base + "/stories")
            page.select_option("select[name=outlet]", "CNN")
            page.check("input[name=headline_changed]")
            page.click("button[type=submit]")
            links = page.locator("a.story-link")
            assert links.all_inner_texts() == ["Ceasefire talks collapse"]
            links.first.click()
            assert page.inner_text("#story-title") == "Ceasefire talks collapse"
            assert page.locator("#diff-inline ins").count() >= 1
            page.click("#view-side")
            assert page.locator("#diff-side tr.row-changed, #diff-side tr.row-added").count() >= 1
            assert "view=side" in page.url
            href = page.get_attribute("a.feed[href^='/feeds/story/']", "href")
            assert href
            feed = page.request.get(site.base + href)
            assert not feedparser.parse(feed.body()).bozo
            page.goto(site.base + f"/story/{site.hostile}?view=side")
            page.hover("#story-title")
            page.goto(site.base + f"/story/{site.hostile}")
            assert "<script>" in page.inner_text("#story-title")
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.evaluate("document.scripts.length") == 0
            assert (
                page.evaluate(
                    "document.querySelectorAll('[onerror],[onload],[onmouseover]').length"
                )
                == 0
            )
            assert dialogs == []
            page.goto(site.base + f"/story/{site.seed}?view=side")
            assert UPDATE_NOTE in page.locator("tr.note-row").last.inner_text()
            page.goto(site.base + f"/story/{site.seed}")
            page.set_viewport_size({"width": 1200, "height": 1100})
            page.evaluate("document.querySelector('.update-notes').scrollIntoView()")
            page.screenshot(path=str(tmp_path / "story.png"), full_page=False)
            target = os.environ.get("NEWSLEDGER_SCREENSHOT")
            if target:
                shutil.copy(tmp_path / "story.png", target)
        except BaseException:
            shot = tmp_path / "failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}", file=sys.stderr)
            raise
        finally:
            browser.close()


def test_links_and_highlights_are_safe() -> None:
    from newsledger.tasks.webview.app import highlight, safe_url

    assert safe_url("https://example.com/a") == "https://example.com/a"
    for hostile in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//x.y"):
        assert safe_url(hostile) is None
    marked = str(highlight("a <b>bridge</b> bridge", ["bridge"]))
    assert marked == "a &lt;b&gt;bridge&lt;/b&gt; <mark>bridge</mark>"
