"""Notifications on change (tasks/notify.py, `newsledger watch`): the plain parts on a real
ledger, then watches as Prefect automations on the session's real server, a real ingest
flow run and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fixture_site import FixtureSite
from newsledger.tasks import notify
from newsledger.tasks.crawl import run_url_ingest
from newsledger.tasks.diff import first_changed_sentence
from newsledger.tasks.errors import UsageError
from newsledger.tasks.events import ARTICLE_REVISED, outcome_events
from newsledger.tasks.settings import Settings
from prefect_server import Server, clean_env, wait_for

REPO_ROOT = Path(__file__).resolve().parents[1]


def page(title: str, outlet: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html lang='en'><head><title>{title}</title>"
        f"<meta property='og:site_name' content='{outlet}'></head><body><article>"
        f"<h1>{title}</h1>{body}</article></body></html>"
    )


HARBOUR = [
    "The council met on Tuesday to debate the harbour wall. Engineers said the wall was safe.",
    "Residents filled the hall, and many of them asked questions about the cost of repairs.",
    "The mayor promised a decision before the winter storms arrive on the northern coast.",
]
HARBOUR_EDITED = [
    HARBOUR[0],
    "Residents filled the hall, and many of them asked questions about the cost of repairs. "
    "The vote was postponed until March after a petition was delivered.",
    HARBOUR[2],
]
MARKET = [
    "The night market reopened on Friday with forty stalls selling food from across the region.",
    "Traders said that takings were higher than in any week since the market first opened.",
    "The organisers plan to extend the opening hours through the summer months this year.",
]
MARKET_EDITED = [*MARKET[:2], "The organisers will extend the opening hours until midnight."]


# --- plain parts --------------------------------------------------------------------------------


def test_first_changed_sentence_is_the_first_sentence_that_differs() -> None:
    old, new = "\n\n".join(HARBOUR), "\n\n".join(HARBOUR_EDITED)
    change = first_changed_sentence(old, new)
    assert change is not None
    assert (change.kind, change.sentence) == (
        "added",
        "The vote was postponed until March after a petition was delivered.",
    )
    replaced = first_changed_sentence("One fact. Two facts.", "One fact. Three facts.")
    assert replaced is not None and (replaced.kind, replaced.sentence) == (
        "changed",
        "Three facts.",
    )
    removed = first_changed_sentence("One fact. Two facts.", "One fact.")
    assert removed is not None and (removed.kind, removed.sentence) == ("removed", "Two facts.")
    assert first_changed_sentence("Same text.", "Same text.") is None


def test_a_revision_outcome_carries_what_a_notification_says(
    settings: Settings, site: FixtureSite
) -> None:
    settings = settings.model_copy(
        update={"allowed_hosts": ["127.0.0.1"], "per_host_delay_seconds": 0.0}
    )
    site.set_page("/harbour.html", page("Harbour wall vote", "Harbour Gazette", HARBOUR))
    url = site.url("/harbour.html")
    run_url_ingest([url], settings)
    site.set_page(
        "/harbour.html", page("Harbour wall vote postponed", "Harbour Gazette", HARBOUR_EDITED)
    )
    (revised,) = run_url_ingest([url], settings).outcomes
    assert revised.outcome == "revised"
    assert revised.outlet == "Harbour Gazette"
    assert revised.previous_title == "Harbour wall vote"
    assert revised.first_change_kind == "added"
    assert revised.first_change == (
        "The vote was postponed until March after a petition was delivered."
    )
    assert revised.article_id and revised.revision == 2

    # the search rule: every term of the query, stemmed, in the new revision's title and text
    matched = notify.matching_searches(
        settings,
        [(revised.article_id, 2)],
        ["harbour vote", "petitions delivered", "harbour sunflower", "the of"],
    )
    assert matched == {revised.article_id: ["harbour vote", "petitions delivered"]}
    assert notify.query_terms(settings, "the of and") == []

    (event,) = outcome_events(
        "run",
        [revised],
        web_base_url="http://news.local:8000/",
        searches=matched,
    )
    assert event.event == ARTICLE_REVISED
    assert event.resource[notify.OUTLET_LABEL] == "harbour gazette"
    assert event.payload["story_url"] == f"http://news.local:8000/story/{revised.article_id}"
    assert event.payload["diff_url"].endswith(f"/story/{revised.article_id}/diff/1/2")
    assert "postponed until March" in event.payload["summary"]
    assert {r["prefect.resource.id"] for r in event.related} == {
        notify.search_resource("harbour vote")["prefect.resource.id"],
        notify.search_resource("petitions delivered")["prefect.resource.id"],
    }


def test_watch_automations_filter_as_documented() -> None:
    story = notify.trigger("story", "abc123")
    assert story["match"] == {"prefect.resource.id": "newsledger.article.abc123"}
    outlet = notify.trigger("outlet", "  BBC   News*")
    assert outlet["match"][notify.OUTLET_LABEL] == "bbc news[*]"  # literal, case-folded
    search = notify.trigger("search", "Harbour  VOTE")
    assert (
        search["match_related"]["prefect.resource.id"]
        == (notify.search_resource("harbour vote")["prefect.resource.id"])
    )
    watch = notify.Watch("w", "search", "harbour {{ vote }}", "http://h/…")
    body = notify.automation_body(watch, "00000000-0000-0000-0000-000000000000")
    # the user's text never enters the Jinja template of the webhook body
    assert "harbour" not in body["actions"][0]["payload"]
    back = notify.watch_from_automation({**body, "id": "x"})
    assert back is not None and (back.name, back.kind, back.value) == ("w", "search", watch.value)


# --- against a real Prefect server ----------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body POSTed to it."""
    box = Receiver("")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                box.received.append((time.time(), json.loads(data)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook/s3cret"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def harness(
    prefect_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Flows of this process run against the session's server; the environment the CLI gets."""
    home = tmp_path_factory.mktemp("notify-prefect-home")
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": prefect_server.api_url,
        "NEWSLEDGER_PREFECT_HOME": str(home),
        "NEWSLEDGER_ALLOWED_HOSTS": "127.0.0.1",
        "NEWSLEDGER_PER_HOST_DELAY_SECONDS": "0",
        "NEWSLEDGER_WEB_BASE_URL": "http://127.0.0.1:8000",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("PREFECT_PROFILE", raising=False)
        from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

        with temporary_settings(
            updates={PREFECT_API_URL: prefect_server.api_url, PREFECT_HOME: home}
        ):
            yield clean_env(**env)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsledger.flows.cli", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_cli(*args: str) -> Any:
    """The CLI in this process (typer's runner): the same code, without a new interpreter."""
    from newsledger.flows.cli import app
    from typer.testing import CliRunner

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.prefect
def test_a_watched_story_revised_by_a_real_ingest_reaches_the_webhook(
    harness: dict[str, str], site: FixtureSite, receiver: Receiver, tmp_path: Path
) -> None:
    from newsledger.flows.web import ingest_urls

    db = tmp_path / "ledger.duckdb"
    settings = Settings(db=db)
    harbour, market = site.url("/harbour.html"), site.url("/market.html")
    site.set_page("/harbour.html", page("Harbour wall vote", "Harbour Gazette", HARBOUR))
    site.set_page("/market.html", page("Night market reopens", "Market Times", MARKET))
    first = run_url_ingest([harbour, market], settings)  # in-process: no events yet
    assert first.new == 2
    harbour_id = next(o.article_id for o in first.outcomes if o.input == harbour)
    assert harbour_id

    hook = receiver.url
    # one watch through a new `newsledger` process (its REST fast path), the rest in-process
    story = cli(harness, "--db", str(db), "watch", harbour_id[:8], "--webhook", hook, "--json")
    assert story.returncode == 0, story.stderr
    assert json.loads(story.stdout)["value"] == harbour_id  # the prefix, resolved
    for args in (
        ["watch", "--outlet", "harbour GAZETTE", "--webhook", hook, "--name", "gaz"],
        ["--db", str(db), "watch", "--search", "postponed petition", "--webhook", hook],
        ["watch", "--outlet", "Nowhere Daily", "--webhook", hook],
    ):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
    listed = run_cli("watch", "--list", "--json")
    watches = {w["name"]: w for w in map(json.loads, listed.stdout.splitlines())}
    assert {w["kind"] for w in watches.values()} == {"story", "outlet", "search"}
    assert len(watches) == 4
    assert all(w["webhook"] == hook.split("/hook")[0] + "/…" for w in watches.values())

    try:
        # both stories change, in one Prefect flow run; only the harbour story is watched
        site.set_page(
            "/harbour.html",
            page("Harbour wall vote postponed", "Harbour Gazette", HARBOUR_EDITED),
        )
        site.set_page("/market.html", page("Night market reopens", "Market Times", MARKET_EDITED))
        second = ingest_urls(urls=[harbour, market], db=str(db))
        assert second["revised"] == 2

        def three() -> bool:
            return len(receiver.received) >= 3

        wait_for(three, "three notifications at the webhook", deadline=20)
        time.sleep(1.0)  # anything else (the market story) would have arrived by now
        bodies = receiver.bodies()
        assert sorted(b["watch"] for b in bodies) == sorted(
            f"newsledger-watch-{n}" for n in watches if n != "outlet-nowhere-daily"
        )
        for body in bodies:
            assert body["article_id"] == harbour_id
            assert body["headline"] == "Harbour wall vote postponed"
            assert body["previous_headline"] == "Harbour wall vote"
            assert body["outlet"] == "Harbour Gazette"
            assert (body["revision"], body["words_added"], body["words_removed"]) == (2, 11, 0)
            assert body["first_change"] == (
                "The vote was postponed until March after a petition was delivered."
            )
            assert body["first_change_kind"] == "added"
            assert body["story_url"] == f"http://127.0.0.1:8000/story/{harbour_id}"
            assert body["diff_url"] == f"http://127.0.0.1:8000/story/{harbour_id}/diff/1/2"
            assert body["event"] == ARTICLE_REVISED and "postponed until March" in body["text"]
    finally:
        for name in watches:
            assert run_cli("watch", "--remove", name).exit_code == 0
    assert run_cli("watch", "--list", "--json").stdout.strip() == ""


def test_watch_usage_errors(harness: dict[str, str]) -> None:
    for args in (
        ["watch", "--outlet", "X"],  # no --webhook
        ["watch", "abc", "--search", "x", "--webhook", "http://127.0.0.1:9/"],  # two kinds
        ["watch", "--list", "--remove", "x"],
        ["watch", "--remove", "no-such-watch"],
        ["watch", "--outlet", "X", "--webhook", "ftp://h/x"],
        ["watch", "--outlet", "X", "--webhook", "http://127.0.0.1:9/", "--name", "Bad Name"],
    ):
        with pytest.raises(UsageError):
            run_cli(*args)
    bad = cli(harness, "watch", "--outlet", "X", "--webhook", "ftp://h/x")  # exit status 2
    assert bad.returncode == 2 and "http(s)" in bad.stderr
