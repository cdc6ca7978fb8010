"""Benchmark of web ingestion: poll 200 feeds listing 2,000 article pages on a local server.

Not collected by pytest. Run it from the repository root:

    .venv/bin/python tests/benchmarks/bench_web.py
    .venv/bin/python tests/benchmarks/bench_web.py --feeds 50 --hosts 4 --per-host 4

What it does, in ONE run:

1. Starts a threaded HTTP server in a *separate process* (so the client's CPU time is the
   client's alone) listening on ``--hosts`` loopback addresses, 127.0.0.1 … 127.0.0.N. Each
   address is a distinct host for the fetcher (its own politeness gate, robots.txt and DNS
   answer), like N outlets. Feed ``f`` and its articles live on host ``f % N``. Every response
   (feeds, articles, robots.txt, 304s) is delayed by ``--delay`` seconds (50 ms) before it is
   written. Articles are realistic pages: ~6-7 KB of article text (900-1,100 words) inside
   navigation, byline, related links and footer (~9-11 KB of HTML). Feeds and articles carry an
   ETag and a Last-Modified and answer conditional requests with 304.
2. First poll, twice, each into a fresh DuckDB file: the serial path (``pipeline_overlap``
   false: fetch a batch, extract it, write it, next batch), then the overlapped pipeline
   (``tasks/overlap.py``); pages/s of both and their ratio (target >= 1.7x), and the
   overlapped wall time against the slowest stage of the serial run alone (target <= 1.3x).
   Each: ``run_poll(feeds, settings, everything=True)`` in-process (the plain, local
   run: no Prefect). Reports pages/second, CPU time per page
   (``time.process_time()`` of this process / pages stored), the sum of the per-request
   latencies measured by the server against the wall time of the fetching (``fetch_all`` calls,
   timed by a pass-through wrapper), and where the wall time went (fetch / extract / store).
3. Second poll of every feed, where every feed answers 304: wall and CPU cost, and the ratio
   first/second (target: >= 50x).

Politeness: per-host concurrency stays at ``--per-host`` (default 2, the project default) and
``global_concurrency`` at 32 (the default); ``per_host_delay_seconds`` is 0. With one host a
politeness delay would serialise all 2,200 requests (2,200 x delay), which measures the delay,
not the code; spreading the feeds over 16 hosts keeps realistic per-host limits while the
fetcher still gets its concurrency across hosts, as it would across real outlets.
``allowed_hosts`` is ``127.0.0.0/8`` (the SSRF guard stays on for everything else).
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "shim"))

# --------------------------------------------------------------------------- the server

_WORD_TEXT = (
    "the of and to a in that is was for it with as on be at by this had not are but from or "
    "have an they which one were all there would their been has when who will more no if out "
    "said what up its about into than them can only other new some could time these two may "
    "then first any now such like over even most made after also did many before must through "
    "back years where much way well down should because each just those people how too little "
    "state good very make world still own see men work long get here between both life being "
    "under never day same another know while last might great old year off come since against "
    "came right used take three minister government police officials president city country "
    "report statement council budget election court judge harbour railway hospital school "
    "university company shares market prices energy water storm flood farmers workers union "
    "strike talks agreement treaty border army ceasefire protest parliament vote law tax"
)
WORDS = tuple(_WORD_TEXT.split())
EPOCH = 1_756_800_000  # a fixed Last-Modified for every resource (2025-09-02)


@cache
def article_body(feed: int, entry: int) -> bytes:
    rng = random.Random(feed * 1000 + entry)
    title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
    paragraphs = []
    words = 0
    target = rng.randint(900, 1100)
    while words < target:
        n = rng.randint(40, 90)
        sentence_words = [rng.choice(WORDS) for _ in range(n)]
        for cut in range(rng.randint(8, 14), n, rng.randint(10, 18)):
            sentence_words[cut] += "."
        text = " ".join(sentence_words).capitalize() + "."
        paragraphs.append(f"<p>{text}</p>")
        words += n
    related = "".join(
        f'<li><a href="/articles/{feed}/{(entry + k) % 10}.html">Related story {k}</a></li>'
        for k in range(1, 6)
    )
    nav = "".join(f'<a href="/section/{w}">{w.title()}</a> ' for w in WORDS[60:80])
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | Bench News</title>"
        f'<meta property="og:title" content="{title}">'
        f'<meta name="author" content="Reporter {feed}">'
        f'<meta property="article:published_time" content="2025-09-0{1 + entry % 9}T10:00:00Z">'
        f"</head><body><header><nav>{nav}</nav></header><main><article><h1>{title}</h1>"
        f'<p class="byline">By Reporter {feed}, Bench News</p>{"".join(paragraphs)}</article>'
        f"<aside><h2>Related</h2><ul>{related}</ul></aside></main>"
        "<footer><p>Copyright Bench News. All rights reserved.</p>"
        '<a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer></body></html>'
    ).encode()


@cache
def feed_body(feed: int, base: str, entries: int) -> bytes:
    date = email.utils.formatdate(EPOCH, usegmt=True)
    items = "".join(
        f"<item><title>Story {feed}-{e}</title><link>{base}/articles/{feed}/{e}.html</link>"
        f'<guid isPermaLink="false">bench-{feed}-{e}</guid><pubDate>{date}</pubDate></item>'
        for e in range(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench feed {feed}</title><link>{base}/</link>{items}</channel></rss>"
    ).encode()


class Stats:
    """Per-request service intervals (request read -> response written), for all hosts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intervals: list[tuple[float, float, int]] = []

    def add(self, start: float, end: float, status: int) -> None:
        with self.lock:
            self.intervals.append((start, end, status))

    def report(self) -> dict[str, Any]:
        with self.lock:
            intervals = list(self.intervals)
        events = sorted([(s, 1) for s, _, _ in intervals] + [(e, -1) for _, e, _ in intervals])
        current = peak = 0
        for _, step in events:
            current += step
            peak = max(peak, current)
        statuses: dict[str, int] = {}
        for _, _, status in intervals:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        return {
            "requests": len(intervals),
            "latency_sum": sum(e - s for s, e, _ in intervals),
            "peak_in_flight": peak,
            "statuses": statuses,
        }

    def reset(self) -> None:
        with self.lock:
            self.intervals.clear()


def serve(hosts: int, delay: float, entries: int) -> None:
    """Serve on 127.0.0.1..127.0.0.<hosts> (one port each); print the ports as JSON; run until
    stdin closes."""
    stats = Stats()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle on, the body waits for the
        # client's delayed ACK (~40 ms on Linux) on every keep-alive request.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            start = time.monotonic()
            path = self.path.split("?", 1)[0]
            if path == "/__stats":
                self.reply(200, json.dumps(stats.report()).encode(), "application/json", None)
                return
            if path == "/__reset":
                stats.reset()
                self.reply(200, b"ok", "text/plain", None)
                return
            host = self.headers.get("Host", "")
            body: bytes | None = None
            content_type = "text/html; charset=utf-8"
            if path == "/robots.txt":
                body, content_type = b"User-agent: *\nAllow: /\n", "text/plain"
            elif path.startswith("/feeds/") and path.endswith(".xml"):
                feed = int(path[len("/feeds/") : -len(".xml")])
                body = feed_body(feed, f"http://{host}", entries)
                content_type = "application/rss+xml"
            elif path.startswith("/articles/"):
                feed_part, entry_part = path[len("/articles/") : -len(".html")].split("/")
                body = article_body(int(feed_part), int(entry_part))
            time.sleep(delay)
            if body is None:
                status = self.reply(404, b"not found", "text/plain", None)
            else:
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    status = self.reply(304, b"", content_type, etag)
                else:
                    status = self.reply(200, body, content_type, etag)
            stats.add(start, time.monotonic(), status)

        def reply(self, status: int, body: bytes, content_type: str, etag: str | None) -> int:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", email.utils.formatdate(EPOCH, usegmt=True))
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)
            return status

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    servers = [Server((f"127.0.0.{h}", 0), Handler) for h in range(1, hosts + 1)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps([s.server_address[1] for s in servers]), flush=True)
    sys.stdin.read()  # until the parent closes our stdin


# --------------------------------------------------------------------------- the client


class Timer:
    """Pass-through wrapper that sums the wall time spent in a function."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.calls = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.cpu += time.process_time() - cpu
                self.calls += 1

        return timed


def server_call(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        body = response.read()
    return json.loads(body) if path == "/__stats" else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=10, help="entries (articles) per feed")
    parser.add_argument("--hosts", type=int, default=16, help="loopback hosts 127.0.0.1..N")
    parser.add_argument("--delay", type=float, default=0.05, help="added latency per response")
    parser.add_argument("--per-host", type=int, default=2, help="per_host_concurrency")
    parser.add_argument("--global-concurrency", type=int, default=32)
    parser.add_argument("--keep", type=Path, help="keep the ledger at this path")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the second poll")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.hosts, args.delay, args.entries)
        return

    from newsledger.tasks import crawl
    from newsledger.tasks.crawl import pages as page_steps
    from newsledger.tasks.crawl import polling, records
    from newsledger.tasks.settings import Settings
    from newsledger.tasks.store import ensure_ledger

    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            f"--hosts={args.hosts}",
            f"--delay={args.delay}",
            f"--entries={args.entries}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    ports: list[int] = json.loads(server.stdout.readline())
    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    db = args.keep or workdir / "ledger.duckdb"
    try:
        feeds_file = workdir / "feeds.yaml"
        lines = ["feeds:"]
        for f in range(args.feeds):
            h = f % args.hosts
            lines += [
                f"  - name: bench feed {f}",
                f"    url: http://127.0.0.{h + 1}:{ports[h]}/feeds/{f}.xml",
            ]
        feeds_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        settings = Settings(
            db=db,
            prefect_home=workdir / ".prefect",
            allowed_hosts=["127.0.0.0/8"],
            per_host_delay_seconds=0.0,
            per_host_concurrency=args.per_host,
            global_concurrency=args.global_concurrency,
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.5,
            read_timeout=10.0,
            total_timeout=30.0,
        )
        fetch_timer, extract_timer, store_timer = Timer(), Timer(), Timer()
        page_steps.fetch_all = polling.fetch_all = fetch_timer.wrap(page_steps.fetch_all)
        page_steps.prepare_documents = extract_timer.wrap(page_steps.prepare_documents)
        records.store_batch = polling.store_batch = store_timer.wrap(records.store_batch)
        load = os.getloadavg()

        pages = args.feeds * args.entries
        print(
            f"local server: {args.feeds} feeds x {args.entries} entries = {pages} article pages "
            f"on {args.hosts} hosts (127.0.0.1-127.0.0.{args.hosts}), +{args.delay * 1000:.0f} ms "
            f"per response, article HTML {len(article_body(0, 0)) / 1024:.1f} KiB"
        )
        print(
            f"settings: per_host_concurrency={settings.per_host_concurrency}, "
            f"global_concurrency={settings.global_concurrency}, per_host_delay_seconds=0, "
            f"batch_size={settings.batch_size}, batch_max_age_seconds="
            f"{settings.batch_max_age_seconds}, CPUs={os.cpu_count()}, load average at start "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )

        # -- first poll, twice: the serial path (baseline), then the overlapped pipeline ----
        import duckdb
        from newsledger.tasks.archive import WarcWriter

        warc_timer = Timer()
        WarcWriter.write = warc_timer.wrap(WarcWriter.write)  # type: ignore[method-assign]

        def first_poll(overlap: bool, warc: bool = True) -> dict[str, Any]:
            label = ("overlapped" if overlap else "serial") + ("" if warc else "-nowarc")
            ledger = db.with_name(f"{db.stem}-{label}.duckdb")
            run_settings = settings.model_copy(
                update={
                    "pipeline_overlap": overlap,
                    "db": ledger,
                    "warc_enabled": warc,
                    "warc_dir": workdir / f"warc-{label}",
                }
            )
            ensure_ledger(run_settings)  # the empty ledger exists before the clock starts
            for timer in (fetch_timer, extract_timer, store_timer, warc_timer):
                timer.seconds, timer.cpu, timer.calls = 0.0, 0.0, 0
            server_call(ports[0], "/__reset")
            wall0, cpu0 = time.perf_counter(), time.process_time()
            summary, poll = crawl.run_poll(feeds_file, run_settings, everything=True)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            served = server_call(ports[0], "/__stats")
            conn = duckdb.connect(str(run_settings.db), read_only=True)
            try:
                text_kib, words = conn.execute(
                    "SELECT avg(strlen(text)) / 1024, avg(word_count) FROM revisions"
                ).fetchone() or (0, 0)
            finally:
                conn.close()
            stored = summary.new
            name = "overlapped pipeline" if overlap else "serial path (pipeline_overlap=false)"
            name += ", WARC archive on" if warc else ", WARC archive off"
            print(f"\nfirst poll (empty ledger), {name}")
            print(
                f"  stored {stored} new articles, {summary.failed} failed "
                f"(feeds: {poll.feeds_polled} polled, {poll.entries_seen} entries)"
            )
            print(f"  extracted article text: {text_kib:.1f} KiB, {words:.0f} words on average")
            print(f"  wall {wall:.2f} s -> {stored / wall:.1f} pages/s")
            print(
                f"  CPU  {cpu:.2f} s -> {cpu / stored * 1000:.1f} ms CPU per page "
                f"(this process only; the server and the extraction workers run in others)"
            )
            print(
                f"  requests served: {served['requests']} {served['statuses']}, "
                f"peak in flight at the server: {served['peak_in_flight']}, "
                f"sum of per-request latencies {served['latency_sum']:.2f} s"
            )
            if not overlap:
                other = wall - fetch_timer.seconds - extract_timer.seconds - store_timer.seconds
                print(
                    f"  wall time split (one stage after the other): fetch "
                    f"{fetch_timer.seconds:.2f} s ({fetch_timer.calls} fetch_all calls), extract "
                    f"{extract_timer.seconds:.2f} s, store {store_timer.seconds:.2f} s, "
                    f"other {other:.2f} s"
                )
            else:
                print(
                    f"  time in the stages (they overlap, so these add up to more than the "
                    f"wall): extract {extract_timer.seconds:.2f} s, store "
                    f"{store_timer.seconds:.2f} s ({store_timer.calls} batches written)"
                )
            if warc:
                archived = sum(p.stat().st_size for p in run_settings.warc_folder.glob("*.warc.gz"))
                print(
                    f"  WARC: {warc_timer.calls} exchanges, {archived / 2**20:.1f} MiB written; "
                    f"time in the writer {warc_timer.seconds:.2f} s (in the fetch loop: "
                    f"building, digests, gzip, append)"
                )
            return {
                "wall": wall,
                "cpu": cpu,
                "stored": stored,
                "stages": {
                    "fetch": fetch_timer.seconds,
                    "extract": extract_timer.seconds,
                    "store": store_timer.seconds,
                },
            }

        serial = first_poll(False)
        overlapped = first_poll(True)
        unarchived = first_poll(True, warc=False)
        cost = (overlapped["wall"] - unarchived["wall"]) / unarchived["wall"]
        print(
            f"\n  WARC on / off (overlapped first poll): wall {overlapped['wall']:.2f} s / "
            f"{unarchived['wall']:.2f} s = {cost * 100:+.1f} % (target <= 5 %); CPU of this "
            f"process {overlapped['cpu']:.2f} s / {unarchived['cpu']:.2f} s; one run each on a "
            f"shared machine, load average now {os.getloadavg()[0]:.2f}"
        )
        first_wall, first_cpu = overlapped["wall"], overlapped["cpu"]
        settings = settings.model_copy(update={"db": db.with_name(f"{db.stem}-overlapped.duckdb")})
        ratio = (overlapped["stored"] / overlapped["wall"]) / (serial["stored"] / serial["wall"])
        slowest_name, slowest = max(serial["stages"].items(), key=lambda item: item[1])
        print(
            f"\n  overlapped / serial pages/s: {ratio:.2f}x (target >= 1.7x); overlapped wall "
            f"{overlapped['wall']:.2f} s = {overlapped['wall'] / slowest:.2f}x the slowest stage "
            f"alone ({slowest_name}, {slowest:.2f} s in the serial run; target <= 1.3x)"
        )

        # -- second poll: every feed answers 304 -------------------------------------------
        for timer in (fetch_timer, extract_timer, store_timer):
            timer.seconds, timer.cpu, timer.calls = 0.0, 0.0, 0
        server_call(ports[0], "/__reset")
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        import gc

        gc_time = [0.0, 0.0]

        def on_gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                gc_time[1] = time.perf_counter()
            else:
                gc_time[0] += time.perf_counter() - gc_time[1]

        gc.callbacks.append(on_gc)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        summary2, poll2 = crawl.run_poll(feeds_file, settings, everything=True)
        gc.callbacks.remove(on_gc)
        second_wall, second_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        second = server_call(ports[0], "/__stats")
        print("\nsecond poll (every feed conditional)")
        print(
            f"  {poll2.feeds_not_modified}/{poll2.feeds_polled} feeds answered 304, "
            f"{summary2.total} pages touched, requests served: {second['requests']} "
            f"{second['statuses']}"
        )
        print(
            f"  wall {second_wall * 1000:.0f} ms, CPU {second_cpu * 1000:.0f} ms "
            f"(fetching: wall {fetch_timer.seconds * 1000:.0f} ms, "
            f"CPU {fetch_timer.cpu * 1000:.0f} ms, "
            f"sum of latencies {second['latency_sum'] * 1000:.0f} ms; garbage collection "
            f"{gc_time[0] * 1000:.0f} ms)"
        )
        print(
            f"  first/second: wall {first_wall / second_wall:.0f}x, "
            f"CPU {first_cpu / second_cpu:.0f}x (target >= 50x)"
        )
        load = os.getloadavg()
        print(
            f"  load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (a shared "
            "machine: figures are noisy when it is above the CPU count)"
        )
        # Politeness bounds the wall time of the second poll from below: a host gets at most
        # per_host concurrent requests and the client at most global_concurrency, and each
        # request waits --delay at the server; robots.txt is reused from the first poll.
        per_host = -(-args.feeds // args.hosts)
        slots = min(args.global_concurrency, args.hosts * args.per_host)
        rounds = max(-(-per_host // args.per_host), -(-args.feeds // slots))
        floor = rounds * args.delay
        print(
            f"  network floor of the second poll: {rounds} rounds of {args.delay * 1000:.0f} ms = "
            f"{floor * 1000:.0f} ms, so first/second cannot exceed {first_wall / floor:.0f}x on "
            f"wall time at these politeness settings; the second poll spent "
            f"{(second_wall - floor) * 1000:.0f} ms above it"
        )
    finally:
        server.stdin.close()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
