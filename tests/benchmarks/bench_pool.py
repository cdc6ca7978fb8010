"""Benchmark of the supervised extraction pool (issue 10). Not collected by pytest. From the
repository root:

    .venv/bin/python tests/benchmarks/bench_pool.py                 # 1,000 pages + hostile run
    .venv/bin/python tests/benchmarks/bench_pool.py --files 300 --no-hostile

Prints, in one run (the pages are bench_ingest.py's generated article pages):

1. worker start-up: first worker ready, all workers ready, a replacement (spawn vs forkserver);
2. first ingest of N pages on every usable core (``newsledger ingest DIR --local``, a fresh
   process and ledger) vs the bare single-process ``trafilatura.bare_extraction`` loop over
   the same files (target >= 1.7x on 2 cores);
3. the same pinned to one core, where the pool has one worker (target >= 0.9x), and the
   in-process path (``NEWSLEDGER_EXTRACT_WORKERS=0``) for comparison;
4. wall time of a one-file ingest (target < 1.5 s);
5. a hostile run: the good pages plus 10 pathological ones (30 MB pages, 10^6 nested elements,
   200,000 paragraphs, a million spans): all good pages stored, the 10 recorded, wall time vs
   the good pages alone + 2 x the timeout, and the peak resident memory of the whole process
   tree (sampled every 50 ms from /proc).

The load average is printed: the figures are only comparable on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "shim"))
sys.path.insert(0, str(HERE.parent))  # tests/: processes.py

from bench_ingest import bare_loop, child_env, generate  # noqa: E402
from processes import proc_entries  # noqa: E402

GOOD_TIME_SLACK_TIMEOUTS = 2


class Run:
    def __init__(
        self, wall: float, cpu: float, peak_tree_mib: float, returncode: int, output: str
    ) -> None:
        self.wall, self.cpu, self.peak_tree_mib = wall, cpu, peak_tree_mib
        self.returncode, self.output = returncode, output


def tree_rss_mib(session: int) -> float:
    """Resident memory of every process of a session (the CLI and its workers), in MiB."""
    pages = sum(entry.rss_pages for entry in proc_entries() if entry.session == session)
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def newsledger(
    args: Sequence[str], *, db: Path, cwd: Path, cpus: set[int] | None, env: dict[str, str]
) -> Run:
    """The CLI as a fresh process in its own session; wall time and peak tree RSS."""
    log = cwd / "bench-output.txt"
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "newsledger.flows.cli", "--db", str(db), *args],
            cwd=cwd,
            env={**child_env(), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        peak = 0.0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_mib(process.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4's usage of the CLI includes the workers it reaped
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, peak, os.waitstatus_to_exitcode(status), log.read_text())


def fresh(path: Path) -> Path:
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    return path


def summary_row(output: str) -> str:
    rows = [line.strip() for line in output.splitlines() if "│" in line]
    return rows[-1] if rows else output.strip().splitlines()[-1]


def startup(method: str, workers: int) -> str:
    """Seconds to the first worker ready, to every worker ready, and for one replacement."""
    from newsledger.tasks import extraction_pool
    from newsledger.tasks.extraction_pool import ExtractionPool, PoolLimits
    from newsledger.tasks.models import SourceDocument

    raw = extraction_pool.WARM_UP_PAGE
    page = SourceDocument("x", "x", "html", raw, hashlib.sha256(raw).hexdigest())
    extraction_pool.START_METHOD = method
    try:
        if method == "forkserver":
            import multiprocessing

            multiprocessing.get_context("forkserver").set_forkserver_preload(
                ["newsledger.tasks.pipeline", "trafilatura", "htmldate", "py3langid"]
            )
        pool = ExtractionPool(PoolLimits(workers, 20, 1024 * 2**20))
        began = time.perf_counter()
        pool.extract([page] * workers * 2, "fast")
        everyone = time.perf_counter() - began
        first = pool.startup_seconds or 0.0
        began = time.perf_counter()
        for worker in list(pool._workers):  # every worker replaced, as after a timeout
            pool._replace(worker)
        pool.extract([page] * workers * 2, "fast")
        again = time.perf_counter() - began
        pool.close()
    finally:
        extraction_pool.START_METHOD = "spawn"
    return (
        f"{method:<10} first worker ready {first:.2f} s, {workers} workers through a page "
        f"{everyone:.2f} s, all replaced + a page each {again:.2f} s"
    )


def write_hostile(folder: Path) -> list[str]:
    """Ten pathological pages; their names."""
    folder.mkdir(parents=True, exist_ok=True)
    para = "<p>" + "word " * 60 + "</p>\n"
    pages = {
        "hostile-30mb-a.html": "<html><body><article>"
        + para * (30 * 2**20 // len(para))
        + "</article></body></html>",
        "hostile-30mb-b.html": "<html><body><div>"
        + ("<div><span>" + "x " * 40 + "</span></div>\n") * (30 * 2**20 // 110)
        + "</div></body></html>",
        "hostile-nested-a.html": "<html><body>" + "<div>" * 10**6 + "deep" + "</div>" * 10**6,
        "hostile-nested-b.html": "<html><body>"
        + "<span><b>" * (10**6 // 2)
        + "x"
        + "</b></span>" * (10**6 // 2),
        "hostile-paragraphs-a.html": "<html><body><article>"
        + "<p>a short paragraph of text</p>" * 200_000
        + "</article></body></html>",
        "hostile-paragraphs-b.html": "<html><body>"
        + "<p>another paragraph, with words</p>\n" * 200_000
        + "</body></html>",
        "hostile-spans-a.html": "<html><body><div>"
        + "<span>x</span>" * 10**6
        + "</div></body></html>",
        "hostile-spans-b.html": "<html><body><p>"
        + "<span>y z</span>" * 10**6
        + "</p></body></html>",
        "hostile-tables.html": "<html><body><table>"
        + "<tr><td>cell</td><td>more</td></tr>" * 400_000
        + "</table></body></html>",
        "hostile-lists.html": "<html><body><ul>"
        + "<li>item text</li>" * 600_000
        + "</ul></body></html>",
    }
    for name, html in pages.items():
        (folder / name).write_text(html, encoding="utf-8")
    return list(pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--no-hostile", action="store_true")
    parser.add_argument(
        "--only-hostile", action="store_true", help="skip (1)-(4): the hostile run alone"
    )
    parser.add_argument(
        "--memory-mb", type=int, help="NEWSLEDGER_EXTRACT_MEMORY_MB of the hostile run"
    )
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    options = parser.parse_args()
    cpus = os.sched_getaffinity(0)
    work = options.keep or Path(tempfile.mkdtemp(prefix="newsledger-bench-pool-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        pages = work / "pages"
        shutil.rmtree(pages, ignore_errors=True)
        paths = generate(pages, options.files)
        load = os.getloadavg()
        print(
            f"extraction pool benchmark: {len(paths)} generated HTML pages; python "
            f"{sys.version.split()[0]}, {len(cpus)} usable CPUs, load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
        )

        first_wall = None if options.only_hostile else good_pages(options, paths, pages, work)
        if not options.no_hostile:
            hostile_run(options, paths, pages, work, first_wall)
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def good_pages(options: argparse.Namespace, paths: list[Path], pages: Path, work: Path) -> float:
    """(1)-(4); the wall time of the first ingest of the good pages on every core."""
    cpus = os.sched_getaffinity(0)
    one_cpu = {min(cpus)}
    print("(1) worker start-up:")
    for method in ("spawn", "forkserver"):
        print("    " + startup(method, len(cpus)))

    flags = ["--local", "--no-show"]
    print(f"(2) both cores ({len(cpus)} CPUs, {len(cpus)} workers):")
    base_wall, base_cpu = bare_loop(paths, None)
    base = len(paths) / base_wall
    print(
        f"    bare trafilatura loop: {base_wall:.1f} s wall ({base_cpu:.1f} s CPU) -> "
        f"{base:.1f} pages/s"
    )
    first = newsledger(
        ["ingest", str(pages), *flags], db=fresh(work / "a.duckdb"), cwd=work, cpus=None, env={}
    )
    rate = len(paths) / first.wall
    print(
        f"    newsledger ingest DIR --local: {first.wall:.1f} s -> {rate:.1f} pages/s; "
        f"ratio {rate / base:.2f}x (target >= 1.7x); CPU {first.cpu:.1f} s, workers "
        f"included ({first.cpu / base_cpu:.2f}x the loop's); peak tree RSS "
        f"{first.peak_tree_mib:.0f} MiB; {summary_row(first.output)}"
    )

    print("(3) pinned to one core:")
    pinned_wall, pinned_cpu = bare_loop(paths, min(one_cpu))
    pinned_base = len(paths) / pinned_wall
    print(f"    bare trafilatura loop: {pinned_wall:.1f} s wall -> {pinned_base:.1f} pages/s")
    for label, env in (
        ("1 worker (auto)", {}),
        ("in-process (=0)", {"NEWSLEDGER_EXTRACT_WORKERS": "0"}),
    ):
        run = newsledger(
            ["ingest", str(pages), *flags],
            db=fresh(work / "b.duckdb"),
            cwd=work,
            cpus=one_cpu,
            env=env,
        )
        pinned_rate = len(paths) / run.wall
        print(
            f"    ingest, {label}: {run.wall:.1f} s -> {pinned_rate:.1f} pages/s; ratio "
            f"{pinned_rate / pinned_base:.2f}x (target >= 0.9x); CPU {run.cpu:.1f} s "
            f"({run.cpu / pinned_cpu:.2f}x the loop's)"
        )

    one = work / "one"
    shutil.rmtree(one, ignore_errors=True)
    one.mkdir()
    walls = []
    for repeat in range(3):
        page = one / f"single-{repeat}.html"
        shutil.copy(paths[repeat], page)
        walls.append(
            newsledger(
                ["ingest", str(page), *flags],
                db=fresh(one / f"one-{repeat}.duckdb"),
                cwd=one,
                cpus=None,
                env={},
            ).wall
        )
    print(
        f"(4) one-file ingest, new ledger: median {statistics.median(walls):.2f} s "
        f"(max {max(walls):.2f}) (target < 1.5 s)"
    )

    return first.wall


def hostile_run(
    options: argparse.Namespace,
    paths: list[Path],
    pages: Path,
    work: Path,
    first_wall: float | None,
) -> None:
    hostile = work / "hostile"
    shutil.rmtree(hostile, ignore_errors=True)
    shutil.copytree(pages, hostile)
    names = write_hostile(hostile)
    env = {"NEWSLEDGER_MAX_FILE_BYTES": str(64 * 2**20)}  # let 30 MB pages reach it
    if options.memory_mb is not None:
        env["NEWSLEDGER_EXTRACT_MEMORY_MB"] = str(options.memory_mb)
    run = newsledger(
        ["ingest", str(hostile), "--local", "--no-show"],
        db=fresh(work / "h.duckdb"),
        cwd=work,
        cpus=None,
        env=env,
    )
    import duckdb

    with duckdb.connect(str(work / "h.duckdb"), read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM revisions").fetchone()
        failures = conn.execute(
            "SELECT regexp_extract(input, '[^/]+$'), error FROM failures ORDER BY 1"
        ).fetchall()
    timeout = 20.0
    versus = (
        f"good pages alone {first_wall:.1f} s; target <= "
        f"{first_wall + GOOD_TIME_SLACK_TIMEOUTS * timeout:.1f} s"
        if first_wall is not None
        else "good pages alone not measured"
    )
    print(
        f"(5) hostile run (memory cap "
        f"{options.memory_mb if options.memory_mb is not None else 'default'}): "
        f"{len(paths)} good + {len(names)} pathological pages: {run.wall:.1f} s "
        f"({versus}); revisions stored {stored[0] if stored else 0} of "
        f"{len(paths)}; peak tree RSS {run.peak_tree_mib:.0f} MiB (target <= 1536)"
    )
    for name, error in failures:
        print(f"    {name}: {error}")
    recorded = {name for name, _error in failures}
    print(f"    all 10 recorded: {'yes' if recorded == set(names) else 'NO'}")


if __name__ == "__main__":
    main()
