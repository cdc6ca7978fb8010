"""Benchmark of notifications on change: a revision committed → its webhook call received.

Not collected by pytest. Run it from the repository root:

    .venv/bin/python tests/benchmarks/bench_notify.py
    .venv/bin/python tests/benchmarks/bench_notify.py --stories 4 --rounds 5

What it does, in ONE run:

1. Starts `prefect server start` on a free port of 127.0.0.1 (SQLite in a temporary
   PREFECT_HOME), unless ``--api-url`` names a running server.
2. Serves ``--stories`` article pages from a real HTTP server on 127.0.0.1
   (tests/fixture_site.py) and a webhook receiver on 127.0.0.1; stores revision 1 of each
   in-process (no events).
3. Baseline rounds (no watch): every page changes, one `ingest-urls` flow run (in this
   process, on the server) stores the revisions; its wall time is recorded.
4. Watched rounds: the same with three watches (`newsledger watch`'s REST calls): the first
   story, the outlet of every story, and a search every story matches; so each round must
   deliver ``2 * stories + 1`` webhook calls. Recorded per call: from the event's emission
   (`occurred`, right after the batch's commit) to its arrival, and from the revision's
   `observed_at` (the batch's time, just before its commit) to its arrival.

Prints per round and as median / max, and the flow run's wall time with watches against the
baseline (what matching the search watch before emitting costs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "shim"))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from bench_servers import start_prefect_server, wait  # noqa: E402
from fixture_site import FixtureSite  # noqa: E402


def page(n: int, version: int) -> str:
    body = "".join(
        f"<p>Paragraph {i} of story {n}: the council met on Tuesday and voted on the harbour "
        f"wall, with residents asking for a review of the engineering estimates.</p>"
        for i in range(6)
    )
    body += f"<p>Update {version}: the vote on story {n} was postponed again.</p>"
    return (
        f"<html lang='en'><head><title>Story {n}</title>"
        "<meta property='og:site_name' content='Bench Gazette'></head><body><article>"
        f"<h1>Story {n}</h1>{body}</article></body></html>"
    )


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        lock = threading.Lock()
        box = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                with lock:
                    box.received.append((arrived, json.loads(data)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--api-url", help="use this running Prefect server")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="newsledger-bench-notify-"))
    server: subprocess.Popen[bytes] | None = None
    api_url = args.api_url
    if not api_url:
        base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))
        }
        server, api_url = start_prefect_server(work, base_env)
    # This process's flows run on that server (set before Prefect is imported).
    os.environ.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(work / "client-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        NEWSLEDGER_PREFECT_HOME=str(work / "client-home"),
        NEWSLEDGER_DB=str(work / "ledger.duckdb"),
        NEWSLEDGER_ALLOWED_HOSTS="127.0.0.1",
        NEWSLEDGER_PER_HOST_DELAY_SECONDS="0",
        NEWSLEDGER_WEB_BASE_URL="http://127.0.0.1:8000",
    )
    os.environ.pop("PREFECT_PROFILE", None)

    from newsledger.flows.web import ingest_urls
    from newsledger.tasks import notify
    from newsledger.tasks.crawl import run_url_ingest
    from newsledger.tasks.settings import Settings

    settings = Settings()
    receiver = Receiver()
    rest = notify.PrefectRest(api_url, {})
    try:
        with FixtureSite() as site:
            urls = []
            for n in range(args.stories):
                site.set_page(f"/s{n}.html", page(n, 1))
                urls.append(site.url(f"/s{n}.html"))
            first = run_url_ingest(urls, settings)
            ids = {o.input: o.article_id for o in first.outcomes}
            version = 1

            def round_() -> float:
                nonlocal version
                version += 1
                for n in range(args.stories):
                    site.set_page(f"/s{n}.html", page(n, version))
                started = time.perf_counter()
                result = ingest_urls(urls=urls, db=str(settings.db))
                assert result["revised"] == args.stories, result
                return time.perf_counter() - started

            baseline = [round_() for _ in range(args.rounds)]
            for line in (f"  round {i + 1}: flow run {t:.2f} s" for i, t in enumerate(baseline)):
                print(line)
            assert not receiver.received
            print(f"baseline (no watch), flow run wall time: {summary(baseline)}")

            watches: list[tuple[notify.WatchKind, str]] = [
                ("story", str(ids[urls[0]])),
                ("outlet", "Bench Gazette"),
                ("search", "harbour postponed"),
            ]
            for kind, value in watches:
                rest.create_watch(
                    notify.Watch(
                        notify.default_name(kind, value), kind, value, notify.redact(receiver.url)
                    ),
                    receiver.url,
                )
            expected = 2 * args.stories + 1  # the story, then each story by outlet and by search
            watched, emit_to_hook, observed_to_hook = [], [], []
            for i in range(args.rounds):
                before = len(receiver.received)
                watched.append(round_())
                wait(
                    lambda before=before: len(receiver.received) >= before + expected,
                    f"{expected} webhook calls",
                    deadline=60,
                )
                time.sleep(0.5)
                got = receiver.received[before:]
                assert len(got) == expected, len(got)
                emitted = [arrived - seconds(b["occurred"]) for arrived, b in got]
                observed = [arrived - seconds(b["observed_at"]) for arrived, b in got]
                emit_to_hook += emitted
                observed_to_hook += observed
                print(
                    f"  round {i + 1}: flow run {watched[-1]:.2f} s; {len(got)} calls; "
                    f"emitted → webhook {summary(emitted)}; revision stored → webhook "
                    f"{summary(observed)}"
                )
            print(
                f"with 3 watches, flow run wall time: {summary(watched)} "
                f"(ratio to baseline, medians: "
                f"{statistics.median(watched) / statistics.median(baseline):.2f})"
            )
            print(
                f"event emitted (after commit) → webhook received: {summary(emit_to_hook)}, "
                f"{len(emit_to_hook)} calls"
            )
            print(
                f"revision observed_at (before commit) → webhook received: "
                f"{summary(observed_to_hook)}"
            )
            for w in rest.watches():
                rest.remove_watch(w.name)
    finally:
        load = os.getloadavg()[0]
        print(f"load average (1 min) at the end: {load:.1f}")
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
