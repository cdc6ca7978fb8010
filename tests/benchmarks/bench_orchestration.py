"""Benchmark of event-driven ingestion: `newsledger submit URL` → story in the ledger.

Not collected by pytest. Run it from the repository root:

    .venv/bin/python tests/benchmarks/bench_orchestration.py
    .venv/bin/python tests/benchmarks/bench_orchestration.py --pages 5 --poll-seconds 10

What it does, in ONE run:

1. Starts `prefect server start` on a free port of 127.0.0.1 (SQLite in a temporary
   PREFECT_HOME), unless ``--api-url`` names a running server.
2. Serves a few article pages from a real HTTP server on 127.0.0.1 (tests/fixture_site.py).
3. Starts `newsledger serve` (the deployments of prefect.yaml) against that server, writing
   a fresh ledger, with ``--poll-seconds`` as the runner's fallback poll (newsledger's default
   2 s: a new run's event wakes `serve` at once; Prefect's own default is 10 s) and the
   project's default politeness (1 s between two requests to one host: robots.txt, then the
   page).
4. For each page, one after the other: runs `newsledger submit URL` (a new process, as a user
   would) and polls the ledger (read-only, every 0.25 s) until the story is there.

Also times, per page and under the same load, the baseline: the same work in-process
(`newsledger ingest --local URL`, a new process, no Prefect), and prints the ratio.

Prints, per page and as median / max: the wall time of the `submit` command, submit → stored
(from the start of the `submit` command to the story readable in the ledger), and where the
time went according to the Prefect server (event → flow run created by the trigger → flow run
started by `serve` → flow run finished), and per page a timeline of its run from the
server's records: the flow run's states and each task run, in seconds from the start of
`submit`, with the moment the story was first seen in the ledger (``--keep`` keeps the logs).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "shim"))
sys.path.insert(0, str(REPO_ROOT / "tests"))

import duckdb  # noqa: E402
from bench_servers import start_prefect_server, wait  # noqa: E402
from fixture_site import FixtureSite  # noqa: E402
from processes import session_processes  # noqa: E402


def page(n: int) -> str:
    body = "".join(
        f"<p>Paragraph {i} of story {n}: the council met on Tuesday and voted on the harbour "
        "wall, with residents asking for a review of the engineering estimates.</p>"
        for i in range(8)
    )
    return (
        f"<html lang='en'><head><title>Story {n}</title></head><body><article>"
        f"<h1>Story {n}</h1>{body}</article></body></html>"
    )


def stored(ledger: Path, url: str) -> bool:
    if not ledger.exists():
        return False
    try:
        with duckdb.connect(str(ledger), read_only=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM article_identities WHERE identity = ?", [url]
            ).fetchone()
    except duckdb.Error:  # the writer holds the file for a moment, or no schema yet
        return False
    return bool(row and row[0])


def finished_runs(ledger: Path) -> int:
    try:
        with duckdb.connect(str(ledger), read_only=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM ingest_runs WHERE finished_at IS NOT NULL"
            ).fetchone()
    except duckdb.Error:
        return 0
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument("--api-url", help="use this running Prefect server")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs, ledger) and print it"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="newsledger-bench-orch-"))
    processes: list[subprocess.Popen[bytes]] = []
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))
    }
    base_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "tests" / "shim"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    base_env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    try:
        api_url = args.api_url
        if not api_url:
            started = time.perf_counter()
            server, api_url = start_prefect_server(work, base_env)
            processes.append(server)
            print(f"prefect server start: healthy after {time.perf_counter() - started:.1f} s")

        ledger = work / "ledger.duckdb"
        env = {
            **base_env,
            "PREFECT_API_URL": api_url,
            "PREFECT_HOME": str(work / "client-home"),
            "NEWSLEDGER_PREFECT_HOME": str(work / "client-home"),
            "NEWSLEDGER_DB": str(ledger),
            "NEWSLEDGER_ALLOWED_HOSTS": "127.0.0.1",
        }
        serve_log = work / "serve.log"
        started = time.perf_counter()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "newsledger.flows.cli",
                    "serve",
                    "--poll-seconds",
                    str(args.poll_seconds),
                ],
                env=env,
                cwd=REPO_ROOT,
                stdout=serve_log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        wait(
            lambda: "Your deployments are being served" in serve_log.read_text(errors="replace"),
            "newsledger serve",
        )
        print(f"newsledger serve: serving after {time.perf_counter() - started:.1f} s")

        submit_walls: list[float] = []
        latencies: list[float] = []
        samples: list[Sample] = []
        baselines: list[float] = []
        with FixtureSite() as site:
            for n in range(args.pages):
                site.set_page(f"/story-{n}.html", page(n))
                url = site.url(f"/story-{n}.html")
                t0 = time.perf_counter()
                w0 = time.time()
                subprocess.run(
                    [sys.executable, "-m", "newsledger.flows.cli", "submit", url],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                t1 = time.perf_counter()
                wait(lambda url=url: stored(ledger, url), f"{url} stored", step=0.25)
                t2 = time.perf_counter()
                submit_walls.append(t1 - t0)
                latencies.append(t2 - t0)
                samples.append(Sample(url, w0, w0 + (t1 - t0), w0 + (t2 - t0)))
                print(f"page {n}: submit command {t1 - t0:.2f} s, submit → stored {t2 - t0:.2f} s")
                # the next page is submitted once this run has ended (its search-index
                # refresh and finish hold the write slot a little longer): each figure is
                # one event's path, not a queue behind the previous run
                wait(lambda n=n: finished_runs(ledger) > n, f"run {n} finished", step=0.25)
                # the baseline, under the same load: the same work in-process (`ingest URL
                # --local`, a new process, its own ledger), with no Prefect at all
                site.set_page(f"/local-{n}.html", page(n))
                t3 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "newsledger.flows.cli",
                        "ingest",
                        "--local",
                        "--no-show",
                        "--db",
                        str(work / "baseline.duckdb"),
                        site.url(f"/local-{n}.html"),
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                baselines.append(time.perf_counter() - t3)
                print(f"        baseline: `ingest --local` of a like page {baselines[-1]:.2f} s")

        print(
            f"\nsubmit → stored over {args.pages} pages "
            f"(runner polls every {args.poll_seconds:g} s): "
            f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s; "
            f"the `submit` command itself: median {statistics.median(submit_walls):.2f} s"
        )
        baseline = statistics.median(baselines)
        print(
            f"baseline, the same work in-process (`ingest --local`, a new process): median "
            f"{baseline:.2f} s; submit → stored / baseline = "
            f"{statistics.median(latencies) / baseline:.2f}"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)")
        breakdown(api_url)
        timelines(api_url, samples)
    finally:
        survivors = [line for process in reversed(processes) for line in stop_session(process)]
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        if survivors:
            raise SystemExit("processes outlived the benchmark:\n" + "\n".join(survivors))


@dataclass(frozen=True)
class Sample:
    """One submitted page: its URL and the wall-clock times (epoch seconds) at which `submit`
    started and returned and at which the story was first seen in the ledger."""

    url: str
    submitted: float
    returned: float
    stored: float


def stop_session(process: subprocess.Popen[bytes], grace: float = 60.0) -> list[str]:
    """Stop a process started with ``start_new_session=True`` and everything it started: SIGTERM
    (serve's graceful stop cancels its runs, ~30 s), then SIGKILL to the whole session's group
    (flow-run children included). Returns whatever still lives in the session (should be [])."""
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for line in session_processes(process.pid):  # a child that left the group, not the session
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return session_processes(process.pid)


@contextlib.contextmanager
def server_client(api_url: str) -> Iterator[Any]:
    """A synchronous Prefect client on the server at ``api_url``."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        yield client


def ingest_runs(client: Any) -> list[Any]:
    """The server's ingest-urls flow runs."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    return list(
        client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["ingest-urls"])))
    )


def task_runs(client: Any, flow_run_ids: list[Any]) -> list[Any]:
    """The task runs of the given flow runs."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    return list(
        client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)))
    )


def breakdown(api_url: str) -> None:
    """Where the time went, from the server's records of the ingest-urls flow runs."""
    with server_client(api_url) as client:
        runs = [r for r in ingest_runs(client) if r.start_time]
        tasks = task_runs(client, [r.id for r in runs])
    if not runs:
        return
    waits = [(r.start_time - r.created).total_seconds() for r in runs if r.start_time]
    durations = [r.total_run_time.total_seconds() for r in runs]
    print(
        f"ingest-urls runs: created by the trigger → started by serve (runner poll + a new "
        f"process): median {statistics.median(waits):.2f} s; run time median "
        f"{statistics.median(durations):.2f} s, of which (median per task):"
    )
    by_name: dict[str, list[float]] = {}
    for t in tasks:
        by_name.setdefault(t.name.rsplit("-", 1)[0], []).append(t.total_run_time.total_seconds())
    for name, seconds in by_name.items():
        print(f"  {name:12} {statistics.median(seconds):.2f} s (max {max(seconds):.2f} s)")


def timelines(api_url: str, samples: list[Sample]) -> None:
    """Per page, the path of its event in seconds from the start of `submit`: the flow run's
    states as the server recorded them (created by the trigger, Scheduled, Pending when serve
    took it, Running), each task run (start-end), the story seen in the ledger, the end."""
    with server_client(api_url) as client:
        runs = ingest_runs(client)
        by_url = {tuple(r.parameters.get("urls") or ()): r for r in runs}
        stages: dict[str, list[float]] = {}
        print("\nper page, seconds from the start of `submit` (server records; tasks start-end):")
        for n, sample in enumerate(samples):
            run = by_url.get((sample.url,))
            if run is None:
                print(f"  page {n}: no ingest-urls run found")
                continue

            def at(seconds: float, sample: Sample = sample) -> str:
                return f"{seconds - sample.submitted:.2f}"

            marks: list[tuple[float, str]] = [
                (sample.returned, f"submit returned {at(sample.returned)}"),
                (sample.stored, f"STORED seen {at(sample.stored)}"),
                (run.created.timestamp(), f"run created {at(run.created.timestamp())}"),
            ]
            marks += [
                (s.timestamp.timestamp(), f"{s.name or s.type.value} {at(s.timestamp.timestamp())}")
                for s in client.read_flow_run_states(run.id)
            ]
            tasks = task_runs(client, [run.id])
            marks += [
                (
                    t.start_time.timestamp(),
                    f"{t.name.rsplit('-', 1)[0]} {at(t.start_time.timestamp())}-"
                    f"{at(t.end_time.timestamp())}",
                )
                for t in tasks
                if t.start_time and t.end_time
            ]
            marks.sort()
            print(f"  page {n}: " + " | ".join(text for _, text in marks))
            states = client.read_flow_run_states(run.id)
            for name, seconds in path_stages(sample, run.created.timestamp(), states, tasks):
                stages.setdefault(name, []).append(seconds)
    if stages:
        print("\nwhere submit → stored went, median over the pages (s):")
        for name, seconds in stages.items():
            print(f"  {name:70} {statistics.median(seconds):5.2f}  (max {max(seconds):.2f})")


def path_stages(
    sample: Sample, created: float, states: list[Any], tasks: list[Any]
) -> list[tuple[str, float]]:
    """One page's submit → stored cut into consecutive stages (they add up to the total)."""

    def first_state(kind: str) -> float | None:
        times = [s.timestamp.timestamp() for s in states if s.type.value == kind]
        return min(times) if times else None

    def task(name: str) -> Any:
        found = [t for t in tasks if t.name.rsplit("-", 1)[0] == name and t.end_time]
        return found[0] if found else None

    pending, running = first_state("PENDING"), first_state("RUNNING")
    begin, store = task("begin-run"), task("store-pages")
    if None in (pending, running, begin, store):
        return []
    points = [
        ("submit started → run created (submit's start-up, its POST, the trigger)", created),
        ("run created → Pending (serve woken, takes the run)", pending),
        ("Pending → Running (run process forked, Prefect's engine starts)", running),
        ("Running → begin-run started (flow function, task engine)", begin.start_time.timestamp()),
        ("begin-run (write slot, ledger row)", begin.end_time.timestamp()),
        ("begin-run ended → store-pages ended (fetch, extract, store)", store.end_time.timestamp()),
        ("store-pages ended → story seen (the ledger is read every 0.25 s)", sample.stored),
    ]
    previous = sample.submitted
    out = []
    for name, moment in points:
        out.append((name, moment - previous))
        previous = moment
    return out


if __name__ == "__main__":
    main()
