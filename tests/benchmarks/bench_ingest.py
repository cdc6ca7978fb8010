"""Benchmark of the ingest path (issue 2): throughput, the unchanged re-ingest, memory, latency.

Not collected by pytest. Run it from the repository root:

    .venv/bin/python tests/benchmarks/bench_ingest.py               # 1,000 pages, pinned to 1 CPU
    .venv/bin/python tests/benchmarks/bench_ingest.py --files 300 --no-pin --keep /tmp/bench

It generates realistic HTML article pages (600-1,200 words in varied paragraphs, a few <h2>
section headings, meta tags with authors and published/modified dates, a canonical URL, and
navigation, "most read", cookie banner, scripts and footer boilerplate) and prints, in one run:

1. articles/s of a bare loop of ``trafilatura.bare_extraction(bytes)`` over the files (baseline),
2. articles/s of ``newsledger ingest DIR --local`` end to end (a subprocess, wall time), and the
   ratio to (1) (target >= 0.85),
3. the second ingest of the unchanged files: wall time and first/second (target >= 20x),
4. peak RSS of the ingest process for 250 vs 1,000 files (flat is the target),
5. wall latency of ``newsledger ingest <one file>`` with ``--local`` and in the default auto mode
   with no Prefect server configured (target < 3 s).

By default the baseline and every ingest run on the same single CPU (``sched_setaffinity``), so
"one core" means one core even on a busy machine. ``NEWSLEDGER_BATCH_SIZE`` keeps its default.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIM = REPO_ROOT / "tests" / "shim"

# --------------------------------------------------------------------------- page generator

OUTLETS = [
    ("The Coastal Tribune", "coastal-tribune.example"),
    ("Northern Daily Herald", "northern-herald.example"),
    ("Metro Observer", "metro-observer.example"),
    ("Valley Post", "valleypost.example"),
    ("Global Wire Service", "globalwire.example"),
]
FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Tom",
    "Ines",
    "Kenji",
    "Olga",
    "Samuel",
    "Priya",
    "Liam",
    "Fatima",
    "Noah",
    "Chen",
    "Lucia",
    "David",
    "Amara",
    "Erik",
    "Hana",
    "Omar",
    "Grace",
]
LAST = [
    "Lopez",
    "Chen",
    "Okafor",
    "Walsh",
    "Garcia",
    "Sato",
    "Ivanova",
    "Mensah",
    "Patel",
    "Murphy",
    "Haddad",
    "Fischer",
    "Wang",
    "Rossi",
    "Cohen",
    "Nwosu",
    "Larsen",
    "Kim",
    "Farouk",
    "Taylor",
]
PLACES = [
    "the harbor district",
    "City Hall",
    "the northern suburbs",
    "the river valley",
    "the state capital",
    "the old port",
    "the university campus",
    "the industrial zone",
    "the border region",
    "the central market",
    "the airport",
    "the coastal towns",
]
ACTORS = [
    "the mayor",
    "council members",
    "state officials",
    "local residents",
    "the governor",
    "union leaders",
    "business owners",
    "environmental groups",
    "the police chief",
    "health officials",
    "engineers",
    "the school board",
    "opposition lawmakers",
    "federal regulators",
    "a spokesperson for the ministry",
    "independent analysts",
]
VERBS = [
    "said",
    "warned",
    "argued",
    "announced",
    "confirmed",
    "denied",
    "acknowledged",
    "insisted",
    "suggested",
    "told reporters",
    "wrote in a statement",
    "added",
]
TOPICS = [
    "the budget shortfall",
    "the new seawall",
    "rising rents",
    "the transit strike",
    "the water contamination",
    "the hospital merger",
    "the election results",
    "the wildfire recovery",
    "the bridge repairs",
    "the school closures",
    "the housing plan",
    "the tax increase",
    "the flood insurance rules",
    "the port expansion",
    "the energy prices",
    "the hiring freeze",
]
CLAUSES = [
    "that the plan would cost more than {n} million dollars over {k} years",
    "that {topic} had been debated for months without a clear decision",
    "that residents of {place} would be the first to feel the effects",
    "that a final vote was expected before the end of {month}",
    "that nearly {n} percent of those surveyed opposed the proposal",
    "that the agency had received more than {n} complaints since {month}",
    "that talks would resume next week despite the disagreement",
    "that an independent review of {topic} was already under way",
    "that the figures released on {day} were lower than expected",
    "that {n} families had been forced to leave their homes in {place}",
]
OPENERS = [
    "{Actor} {verb} on {day} {clause}.",
    "According to {actor}, {topic} has become the most pressing issue in {place}.",
    "In {place}, {actor} {verb} {clause}.",
    "\u201cWe cannot wait any longer,\u201d {one} {verb}, adding {clause}.",
    "The debate over {topic} intensified after {actor} {verb} {clause}.",
    "Critics, including {actor}, have questioned whether {topic} can be resolved by {month}.",
    "Data published by {actor} showed {clause}.",
    "On {day}, {actor} met with representatives from {place} to discuss {topic}.",
    "It was not immediately clear how {topic} would affect {place}.",
    "{Actor} declined to comment on {topic} but {verb} {clause}.",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HEADINGS = [
    "What happens next",
    "A costly decision",
    "Residents react",
    "The numbers",
    "A long dispute",
    "What officials said",
    "Looking ahead",
    "Behind the vote",
    "Questions remain",
    "How we got here",
]


def sentence(rng: random.Random) -> str:
    actor = rng.choice(ACTORS)
    values = {
        "actor": actor,
        "Actor": actor[0].upper() + actor[1:],
        "verb": rng.choice(VERBS),
        "topic": rng.choice(TOPICS),
        "place": rng.choice(PLACES),
        "month": rng.choice(MONTHS),
        "day": rng.choice(DAYS),
        "n": rng.randint(2, 950),
        "k": rng.randint(2, 30),
        "one": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
    }
    values["clause"] = rng.choice(CLAUSES).format(**values)
    return rng.choice(OPENERS).format(**values)


def article_page(index: int, rng: random.Random) -> str:
    outlet, host = rng.choice(OUTLETS)
    authors = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(1, 3))]
    published = date(2024, 1, 1) + timedelta(days=rng.randint(0, 600))
    modified = published + timedelta(days=rng.randint(1, 5)) if rng.random() < 0.5 else None
    topic = rng.choice(TOPICS)
    title = f"{rng.choice(ACTORS).capitalize()} clash over {topic} in {rng.choice(PLACES)}"
    slug = f"story-{index:05d}"
    url = f"https://{host}/news/{published:%Y/%m/%d}/{slug}"

    target_words = rng.randint(600, 1200)
    body: list[str] = []
    words = 0
    headings = rng.sample(HEADINGS, rng.randint(1, 3))
    heading_at = sorted(rng.sample(range(3, 12), len(headings)))
    paragraph_index = 0
    while words < target_words:
        if heading_at and paragraph_index == heading_at[0]:
            heading_at.pop(0)
            body.append(f"<h2>{headings.pop(0)}</h2>")
        text = " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
        words += len(text.split())
        body.append(f"<p>{text}</p>")
        paragraph_index += 1
        if rng.random() < 0.08:
            body.append(f"<blockquote><p>{sentence(rng)}</p></blockquote>")
        if rng.random() < 0.1:
            body.append('<div class="ad-slot" data-ad="inline"><span>Advertisement</span></div>')

    sections = [
        "World",
        "Politics",
        "Business",
        "Climate",
        "Science",
        "Health",
        "Sports",
        "Culture",
        "Opinion",
        "Travel",
        "Video",
        "Podcasts",
    ]
    nav = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in ["Home", *sections])
    # A mega menu: every section with a dozen sub-sections, as most news sites ship it.
    mega = "".join(
        f'<div class="mega-col"><h4><a href="/{s.lower()}">{s}</a></h4><ul>'
        + "".join(
            f'<li class="mega-item"><a href="/{s.lower()}/{t.split()[-1]}-{j}" '
            f'data-track="nav-{s.lower()}-{j}">{t.split()[-1].capitalize()} {j}</a></li>'
            for j, t in enumerate(rng.sample(TOPICS, 12))
        )
        + "</ul></div>"
        for s in sections
    )
    icon = (
        '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2L2 7l10 5 '
        '10-5-10-5zm0 7.5L4.5 6 12 2.5 19.5 6 12 9.5z"/></svg>'
    )
    most_read = "".join(f'<li><a href="/news/{i}">{sentence(rng)[:70]}</a></li>' for i in range(5))
    related = "".join(
        f'<div class="card" data-id="{rng.randint(10**6, 10**7)}"><a href="/news/{i}">'
        f'<img src="/img/t{i}.jpg" loading="lazy" alt="" width="300" height="200">'
        f'<span class="kicker">{rng.choice(sections)}</span><h4>{sentence(rng)[:80]}</h4></a>'
        f'<p class="summary">{sentence(rng)}</p>{icon}<span class="time">{rng.randint(1, 23)}'
        f" hours ago</span></div>"
        for i in range(24)
    )
    footer_links = "".join(
        f'<li><a href="/{s.lower()}/{t.split()[-1]}">{s} {t.split()[-1]}</a></li>'
        for s in sections
        for t in rng.sample(TOPICS, 5)
    )
    state = ", ".join(f'"k{i}": "{rng.random():.12f}"' for i in range(400))
    modified_meta = (
        f'<meta property="article:modified_time" content="{modified}T12:00:00Z">'
        if modified
        else ""
    )
    author_meta = "".join(f'<meta name="author" content="{a}">' for a in authors[:1])
    byline = " and ".join(authors)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | {outlet}</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{outlet}">
<meta property="og:type" content="article">
<meta property="og:url" content="{url}">
{author_meta}
<meta property="article:published_time" content="{published}T08:30:00Z">
{modified_meta}
<meta name="description" content="{sentence(rng)}">
<link rel="canonical" href="{url}">
<link rel="stylesheet" href="/static/site.css">
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}
gtag('js', new Date()); gtag('config', 'G-XXXX');</script>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "{title}", "datePublished": "{published}T08:30:00Z"}}</script>
</head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience.
<a href="/privacy">Learn more</a></p><button>Accept all</button></div>
<header class="site-header"><a class="logo" href="/">{outlet}</a>
<nav class="main-nav"><ul>{nav}</ul><div class="mega-menu">{mega}</div></nav>
<form class="search" action="/search"><input name="q" placeholder="Search"></form></header>
<main>
<article class="story">
<h1 class="headline">{title}</h1>
<div class="byline">By {byline} | <time datetime="{published}">{published:%B %d, %Y}</time></div>
<figure><img src="/img/{slug}.jpg" alt="A view of {rng.choice(PLACES)}">
<figcaption>A view of {rng.choice(PLACES)}. (Photo: Staff)</figcaption></figure>
<div class="story-body">
{chr(10).join(body)}
</div>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a>
<a href="#">Email</a></div>
</article>
<aside class="sidebar"><h3>Most read</h3><ol>{most_read}</ol>
<div class="newsletter"><h3>Get the morning briefing</h3><p>Sign up for our newsletter.</p>
</div></aside>
<section class="related"><h3>More from {outlet}</h3><div class="grid">{related}</div></section>
</main>
<footer class="site-footer"><ul class="sitemap">{footer_links}</ul>
<ul><li><a href="/about">About us</a></li>
<li><a href="/contact">Contact</a></li><li><a href="/privacy">Privacy policy</a></li>
<li><a href="/terms">Terms of use</a></li></ul>
<p>&copy; {published.year} {outlet}. All rights reserved.</p></footer>
<script>window.__INITIAL_STATE__ = {{{state}}};</script>
<script src="/static/app.js" async></script>
</body>
</html>
"""


def generate(folder: Path, count: int, seed: int = 2) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"article-{index:05d}.html"
        path.write_text(article_page(index, rng), encoding="utf-8")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- measuring


def pinned(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))}
    # The installed package is byte-compiled (uv sync --compile-bytecode); the working tree
    # that the shim imports gets its __pycache__ on the first run, instead of recompiling every
    # module on every command where the environment sets PYTHONDONTWRITEBYTECODE.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(SHIM), *filter(None, [env.get("PYTHONPATH")])])
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


class Run:
    def __init__(
        self, wall: float, cpu: float, max_rss_kib: int, returncode: int, output: str
    ) -> None:
        self.wall, self.cpu, self.max_rss_kib = wall, cpu, max_rss_kib
        self.returncode, self.output = returncode, output


def newsledger(args: Sequence[str], *, db: Path, cwd: Path, cpu: int | None) -> Run:
    """Run the CLI as a fresh process; wall time, CPU time and peak RSS of that process."""
    log = cwd / "bench-output.txt"
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "newsledger.flows.cli", "--db", str(db), *args],
            cwd=cwd,
            env=child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned(cpu),
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text()
    if process.returncode != 0:
        raise SystemExit(f"newsledger {' '.join(args)} failed ({process.returncode}):\n{output}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode, output)


def bare_loop(paths: Sequence[Path], cpu: int | None) -> tuple[float, float]:
    """Wall and CPU seconds of trafilatura.bare_extraction over the files, in this process."""
    import trafilatura

    before = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        trafilatura.bare_extraction(paths[0].read_bytes(), with_metadata=True)  # warm up
        cpu_start = time.process_time()
        start = time.perf_counter()
        found = 0
        for path in paths:
            document = trafilatura.bare_extraction(path.read_bytes(), with_metadata=True)
            found += document is not None and bool(document.text)
        wall = time.perf_counter() - start
        cpu_time = time.process_time() - cpu_start
    finally:
        os.sched_setaffinity(0, before)
    assert found == len(paths), f"trafilatura extracted {found} of {len(paths)} pages"
    return wall, cpu_time


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--small", type=int, default=250, help="file count of the RSS comparison")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each latency probe")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    options = parser.parse_args()
    cpu = None if options.no_pin else min(os.sched_getaffinity(0))

    work = options.keep or Path(tempfile.mkdtemp(prefix="newsledger-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        pages = work / "pages"
        shutil.rmtree(pages, ignore_errors=True)
        started = time.perf_counter()
        paths = generate(pages, options.files)
        small = work / "pages-small"
        shutil.rmtree(small, ignore_errors=True)
        small.mkdir()
        for path in paths[: options.small]:
            shutil.copy(path, small / path.name)
        sizes = [p.stat().st_size for p in paths]
        words = [len(p.read_text().split()) for p in paths[:50]]
        load = os.getloadavg()
        print(
            f"newsledger ingest benchmark: {len(paths)} generated HTML pages in "
            f"{time.perf_counter() - started:.1f} s, median {statistics.median(sizes) / 1024:.1f}"
            f" KiB/page (~{statistics.mean(words):.0f} whitespace tokens incl. markup)"
        )
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
            f"{'pinned to CPU ' + str(cpu) if cpu is not None else 'not pinned'}, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
            f"batch size {os.environ.get('NEWSLEDGER_BATCH_SIZE', 'default')}"
        )
        print()

        # (1) baseline
        base_wall, base_cpu = bare_loop(paths, cpu)
        base_rate = len(paths) / base_wall
        print(
            f"(1) bare trafilatura.bare_extraction loop: {base_wall:.1f} s wall "
            f"({base_cpu:.1f} s CPU) -> {base_rate:.1f} articles/s"
        )

        # (2) first ingest, end to end
        db = work / "ledger.duckdb"
        for leftover in work.glob("ledger.duckdb*"):
            leftover.unlink()
        first = newsledger(["ingest", str(pages), "--local", "--no-show"], db=db, cwd=work, cpu=cpu)
        rate = len(paths) / first.wall
        print(
            f"(2) newsledger ingest DIR --local, first run: {first.wall:.1f} s wall "
            f"({first.cpu:.1f} s CPU) -> {rate:.1f} articles/s; "
            f"ratio to (1) {rate / base_rate:.2f}x (target >= 0.85); by CPU time "
            f"{base_cpu / first.cpu:.2f}x"
        )

        # (3) second ingest, nothing changed
        second = newsledger(
            ["ingest", str(pages), "--local", "--no-show"], db=db, cwd=work, cpu=cpu
        )
        print(
            f"(3) second ingest of the unchanged files: {second.wall:.2f} s wall "
            f"({second.cpu:.2f} s CPU); first/second {first.wall / second.wall:.1f}x "
            f"(target >= 20x), by CPU time {first.cpu / second.cpu:.1f}x"
        )
        unchanged = [line for line in second.output.splitlines() if "│" in line]
        if unchanged:
            print(f"    summary row: {unchanged[-1].strip()}")

        # (4) peak RSS, few vs many files
        small_db = work / "ledger-small.duckdb"
        for leftover in work.glob("ledger-small.duckdb*"):
            leftover.unlink()
        few = newsledger(
            ["ingest", str(small), "--local", "--no-show"], db=small_db, cwd=work, cpu=cpu
        )
        print(
            f"(4) peak RSS of the ingest process: {options.small} files {mib(few.max_rss_kib)},"
            f" {len(paths)} files {mib(first.max_rss_kib)} (ratio "
            f"{first.max_rss_kib / few.max_rss_kib:.2f}); unchanged re-ingest of "
            f"{len(paths)}: {mib(second.max_rss_kib)}"
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"    (this benchmark process, after the bare loop: {mib(own)})")

        # (5) latency of one file
        one = work / "one"
        shutil.rmtree(one, ignore_errors=True)
        one.mkdir()
        modes = (("local", "--local", ["--local"]), ("auto", "auto, no Prefect server", []))
        for key, _label, _flags in modes:
            for repeat in range(options.repeat):  # distinct names: distinct new stories
                shutil.copy(paths[repeat], one / f"{key}-single-{repeat}.html")
        print(f"(5) latency of `newsledger ingest <one file>` (wall, {options.repeat} runs each):")
        via_prefect = False
        for key, label, flags in modes:
            fresh, into_big, again, cpu_times = [], [], [], []
            for repeat in range(options.repeat):
                page = one / f"{key}-single-{repeat}.html"
                fresh_db = one / f"fresh-{key}-{repeat}.duckdb"
                runs = [
                    newsledger(["ingest", str(page), *flags], db=fresh_db, cwd=one, cpu=cpu),
                    newsledger(["ingest", str(page), *flags], db=db, cwd=one, cpu=cpu),
                    newsledger(["ingest", str(page), *flags], db=db, cwd=one, cpu=cpu),
                ]
                via_prefect |= any("flow run" in run.output for run in runs)
                fresh.append(runs[0].wall)
                into_big.append(runs[1].wall)
                cpu_times.append(runs[1].cpu)
                again.append(runs[2].wall)
            print(
                f"    {label:<24} new ledger: median {statistics.median(fresh):.2f} s "
                f"(max {max(fresh):.2f}); new story into the {len(paths)}-story ledger: "
                f"median {statistics.median(into_big):.2f} s (max {max(into_big):.2f}, CPU "
                f"{statistics.median(cpu_times):.2f} s); unchanged: median "
                f"{statistics.median(again):.2f} s (max {max(again):.2f})  (target < 3 s)"
            )
        print(f"    any run went through Prefect: {'yes' if via_prefect else 'no'}")
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
