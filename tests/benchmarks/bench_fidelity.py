"""Change-fidelity benchmark (a script, issue 9 item 6): does the real ingest record a revision
for every real edit and none for page noise?

    PYTHONPATH=tests/shim python tests/benchmarks/bench_fidelity.py CORPUS_DIR [CORPUS_DIR...] \\
        [--limit 160] [--seed 1] [--jobs 1] [--kinds reflow,ad_slot] [--workdir DIR] [--json F]

CORPUS_DIR: folders of real HTML pages (searched recursively, duplicates dropped), e.g.
trafilatura's and htmldate's ``tests/`` folders (public evaluation data: never commit it).

Pages are taken in a seeded random order; a page is used when trafilatura's default extraction
contains at least three of its ``<p>`` elements (its body paragraphs; the others are counted as
skipped). Every kind of ``fidelity_variants.KINDS`` is applied to every used page, which makes
one base/variant pair per page and kind. For each kind, in its own folder and ledger:

1. every base page is written to ``<kind>/pages/<page>.html`` and ingested in ONE run of the
   real pipeline (``tasks.pipeline.ingest_paths``, the CLI's in-process path, a real DuckDB
   ledger; ``NEWSLEDGER_*`` settings such as ``NEWSLEDGER_EXTRACTION_MODE`` apply);
2. every file is overwritten with its variant and the folder is ingested again in ONE run: the
   same path is the same story, and its observation in the ledger says ``revised`` or
   ``unchanged``.

A noise kind that comes out ``revised`` is a spurious revision, an edit kind that comes out
``unchanged`` a missed edit. Pages whose base newsledger cannot ingest (or a variant that fails)
are counted apart. The same pairs are judged for a peer, "a plain hash of trafilatura's default
output" (``sha256(trafilatura.extract(html))`` of base vs variant), in the same run.

``main(argv)`` is the entry point, so ``bench_quality.py --mode fidelity`` can dispatch to it.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "shim"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import duckdb  # noqa: E402
import fidelity_variants as fv  # noqa: E402
import trafilatura  # noqa: E402

MAX_PAGE_BYTES = 3 * 1024 * 1024
SUFFIXES = (".html", ".htm")


@dataclass
class PairResult:
    kind: str
    page: str  # file name of the pair in the work folder
    source: str  # corpus file (relative to its corpus folder)
    expect_revision: bool
    project: str  # revised | unchanged | base_failed | variant_failed | skipped
    peer: str  # revised | unchanged | base_failed
    reason: str = ""  # why skipped / failed
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def project_wrong(self) -> bool:
        if self.project not in ("revised", "unchanged", "variant_failed"):
            return False
        return (self.project == "revised") != self.expect_revision

    @property
    def peer_wrong(self) -> bool:
        if self.peer not in ("revised", "unchanged") or self.project == "skipped":
            return False
        return (self.peer == "revised") != self.expect_revision


# --------------------------------------------------------------------------- corpus


def corpus_files(folders: Sequence[Path]) -> list[tuple[Path, str]]:
    """Every HTML file under the folders once (by content), as (path, label)."""
    seen: set[str] = set()
    files: list[tuple[Path, str]] = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in SUFFIXES or not path.is_file():
                continue
            size = path.stat().st_size
            if size == 0 or size > MAX_PAGE_BYTES:
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            files.append((path, f"{folder.name}/{path.relative_to(folder).as_posix()}"))
    return files


def screen(job: tuple[int, str, str]) -> fv.PageSpec | str:
    """Locate the body paragraphs of one corpus page, or say why it cannot be used."""
    index, path, label = job
    try:
        page = fv.normalise(Path(path).read_bytes())
    except Exception as error:  # an lxml parse failure only skips that page
        return f"parse failed ({type(error).__name__})"
    try:
        extracted = trafilatura.extract(page)
        # Edits go into the article's own paragraphs: trafilatura's default output also holds
        # reader comments, which newsledger leaves out of a story by design (a comment is not
        # an edit of the story), so paragraphs are located in its text without comments.
        article = trafilatura.extract(page, include_comments=False)
    except Exception as error:  # trafilatura failing on a page only skips that page
        return f"trafilatura raised {type(error).__name__}"
    if not extracted or not article:
        return "trafilatura extracts nothing"
    name = f"{index:04d}-{hashlib.sha1(label.encode()).hexdigest()[:8]}.html"
    try:
        spec = fv.locate(name, path, label, page, article)
    except fv.NotUsable as why:
        return str(why)
    return replace(spec, reference=extracted)


# --------------------------------------------------------------------------- one kind


def peer_hash(html: bytes) -> str | None:
    text = trafilatura.extract(html)
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def word_diff(old: str, new: str, limit: int = 14) -> str:
    a, b = old.split(), new.split()
    parts: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            parts.append(
                "[-" + " ".join(a[i1:i2][:limit]) + ("…" if i2 - i1 > limit else "") + "-]"
            )
        if j2 > j1:
            parts.append(
                "{+" + " ".join(b[j1:j2][:limit]) + ("…" if j2 - j1 > limit else "") + "+}"
            )
        if len(parts) >= 4:
            break
    return " ".join(parts)


def run_kind(
    kind: str, specs: Sequence[fv.PageSpec], workdir: Path, seed: int, peer: bool
) -> dict[str, Any]:
    from newsledger.tasks.pipeline import ingest_paths
    from newsledger.tasks.settings import Settings

    started = time.perf_counter()
    folder = workdir / kind
    pages = folder / "pages"
    if folder.exists():
        shutil.rmtree(folder)
    pages.mkdir(parents=True)
    expect = kind in fv.EDITS
    results: dict[str, PairResult] = {}
    pairs: dict[str, tuple[bytes, bytes]] = {}
    normal: dict[str, bytes] = {}
    for spec in specs:
        rng = random.Random(f"{seed}:{kind}:{spec.source}")
        try:
            normal[spec.name] = fv.normalise(Path(spec.source).read_bytes())
            page = fv.load_page(spec, normal[spec.name])
            pairs[spec.name] = fv.KINDS[kind](page, rng)
        except fv.NotUsable as why:
            results[spec.name] = PairResult(
                kind, spec.name, spec.label, expect, "skipped", "", str(why)
            )
    for name, (base, _variant) in pairs.items():
        (pages / name).write_bytes(base)
    settings = Settings(
        db=folder / "ledger.duckdb",
        files_root=pages,
        prefect_home=folder / ".prefect",
        orchestration="local",
    )
    base_run = ingest_paths([str(pages)], settings)
    for name, (_base, variant) in pairs.items():
        (pages / name).write_bytes(variant)
    variant_run = ingest_paths([str(pages)], settings)
    ingest_seconds = time.perf_counter() - started

    with duckdb.connect(str(settings.db), read_only=True) as conn:
        outcome: dict[tuple[str, str], str] = {
            (run, Path(inp).name): out
            for run, inp, out in conn.execute(
                "SELECT run_id, input, outcome FROM observations WHERE run_id IN (?, ?)",
                [base_run.run_id, variant_run.run_id],
            ).fetchall()
        }
        reasons = {
            (run, Path(inp).name): f"{error}: {message}"
            for run, inp, error, message in conn.execute(
                "SELECT run_id, input, error, message FROM failures WHERE run_id IN (?, ?)",
                [base_run.run_id, variant_run.run_id],
            ).fetchall()
        }
        revisions: dict[str, dict[int, tuple[str, str, list[str]]]] = {}
        for identity, revision, title, text, changed in conn.execute(
            "SELECT a.identity, r.revision, r.title, r.text, r.changed_fields "
            "FROM revisions r JOIN articles a USING (article_id)"
        ).fetchall():
            revisions.setdefault(identity.removeprefix("file:"), {})[revision] = (
                title or "",
                text,
                list(changed),
            )

    for spec in specs:
        name = spec.name
        if name not in pairs:
            continue
        base_out = outcome.get((base_run.run_id, name), "missing")
        variant_out = outcome.get((variant_run.run_id, name), "missing")
        base, variant = pairs[name]
        if base_out != "new":
            project, reason = "base_failed", reasons.get((base_run.run_id, name), base_out)
        elif variant_out in ("revised", "unchanged"):
            project, reason = variant_out, ""
        else:
            project, reason = "variant_failed", reasons.get((variant_run.run_id, name), variant_out)
        peer_out = ""
        base_text = variant_text = None
        if peer:
            # the kinds that add nothing to the base write the normalised page itself
            base_text = spec.reference if base == normal[name] else trafilatura.extract(base)
            variant_text = trafilatura.extract(variant)
            if not base_text:
                peer_out = "base_failed"
            else:
                peer_out = "revised" if base_text != variant_text else "unchanged"
        result = PairResult(kind, name, spec.label, expect, project, peer_out, reason)
        if result.project_wrong:
            result.detail = diagnose(result, revisions.get(name, {}), base_text, variant_text)
        results[name] = result

    return {
        "kind": kind,
        "results": [asdict(results[s.name]) for s in specs if s.name in results],
        "seconds": time.perf_counter() - started,
        "ingest_seconds": ingest_seconds,
    }


def diagnose(
    result: PairResult,
    revisions: dict[int, tuple[str, str, list[str]]],
    base_text: str | None,
    variant_text: str | None,
) -> dict[str, Any]:
    """What the project's stored text did, next to trafilatura's default, for a wrong pair."""
    detail: dict[str, Any] = {}
    first = revisions.get(1)
    if first:
        detail["project_words"] = len(first[1].split())
    if base_text:
        detail["trafilatura_words"] = len(base_text.split())
    if result.project == "revised" and 1 in revisions and 2 in revisions:
        (t1, x1, _), (t2, x2, changed) = revisions[1], revisions[2]
        detail["changed_fields"] = changed
        if t1 != t2:
            detail["title_diff"] = word_diff(t1, t2)
        if x1 != x2:
            detail["text_diff"] = word_diff(x1, x2)
    elif base_text is not None and variant_text is not None:
        detail["trafilatura_diff"] = word_diff(base_text, variant_text)
    return detail


# --------------------------------------------------------------------------- report


def rate(count: int, total: int) -> str:
    return f"{100 * count / total:5.1f} %" if total else "    - "


def report(results: list[PairResult], skipped_pages: Counter[str], used: int, show: int) -> None:
    header = (
        f"{'kind':<18} {'class':<5} {'pairs':>5} {'skip':>4} {'base✗':>5} {'var✗':>4} "
        f"{'wrong':>5} {'rate':>7} | {'peer pairs':>10} {'wrong':>5} {'rate':>7}"
    )
    print(header)
    print("-" * len(header))
    totals: dict[str, Counter[str]] = {"noise": Counter(), "edit": Counter()}
    for kind in fv.KINDS:
        rows = [r for r in results if r.kind == kind]
        if not rows:
            continue
        group = "edit" if kind in fv.EDITS else "noise"
        judged = [r for r in rows if r.project in ("revised", "unchanged", "variant_failed")]
        peer_judged = [
            r for r in rows if r.peer in ("revised", "unchanged") and r.project != "skipped"
        ]
        counts = Counter(
            pairs=len(judged),
            skip=sum(r.project == "skipped" for r in rows),
            base_failed=sum(r.project == "base_failed" for r in rows),
            variant_failed=sum(r.project == "variant_failed" for r in rows),
            wrong=sum(r.project_wrong for r in rows),
            peer_pairs=len(peer_judged),
            peer_wrong=sum(r.peer_wrong for r in rows),
        )
        totals[group].update(counts)
        print(row_line(kind, group, counts))
    print("-" * len(header))
    for group, label in (("noise", "spurious (noise)"), ("edit", "missed (edits)")):
        if totals[group]["pairs"] or totals[group]["skip"]:
            print(row_line(label, group, totals[group]))
    all_counts = totals["noise"] + totals["edit"]
    print(row_line("all pairs", "", all_counts))
    print(
        f"\npages used: {used}; corpus pages skipped: {sum(skipped_pages.values())} "
        f"({', '.join(f'{why}: {n}' for why, n in skipped_pages.most_common(6))})"
    )
    print(
        "wrong = spurious revisions for noise kinds, missed edits for edit kinds; "
        "base✗ = newsledger could not ingest the base page (not counted as wrong); "
        "var✗ = the variant failed (a missed edit for edit kinds)."
    )
    wrong = [r for r in results if r.project_wrong]
    if wrong and show:
        print(f"\nwrong pairs (first {show} per kind; project words vs trafilatura default words):")
        for kind in fv.KINDS:
            for r in [r for r in wrong if r.kind == kind][:show]:
                detail = json.dumps(r.detail, ensure_ascii=False)[:300]
                print(f"  {kind:<17} {r.source}: {r.project}; {detail}")
    reasons = Counter(r.reason.split(":")[0] for r in results if r.project == "base_failed")
    if reasons:
        print(f"\nbase failures: {dict(reasons)}")


def row_line(label: str, group: str, c: Counter[str]) -> str:
    return (
        f"{label:<18} {group:<5} {c['pairs']:>5} {c['skip']:>4} {c['base_failed']:>5} "
        f"{c['variant_failed']:>4} {c['wrong']:>5} {rate(c['wrong'], c['pairs']):>7} | "
        f"{c['peer_pairs']:>10} {c['peer_wrong']:>5} {rate(c['peer_wrong'], c['peer_pairs']):>7}"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="+", type=Path, help="folders of real HTML pages")
    parser.add_argument("--limit", type=int, default=160, help="pages to use (default 160)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="kinds run in parallel processes")
    parser.add_argument("--kinds", default=",".join(fv.KINDS), help="comma list of kinds")
    parser.add_argument(
        "--workdir", type=Path, help="keep pages and ledgers here (default: a temp dir, removed)"
    )
    parser.add_argument("--json", type=Path, help="write every pair's result here")
    parser.add_argument("--no-peer", action="store_true", help="skip the trafilatura-hash peer")
    parser.add_argument("--show", type=int, default=8, help="wrong pairs listed per kind")
    args = parser.parse_args(argv)
    unknown = set(args.kinds.split(",")) - set(fv.KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(fv.KINDS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    files = corpus_files(args.corpus)
    order = list(range(len(files)))
    random.Random(args.seed).shuffle(order)
    kinds = [k for k in fv.KINDS if k in args.kinds.split(",")]

    specs: list[fv.PageSpec] = []
    skipped: Counter[str] = Counter()
    todo = [(n, str(files[i][0]), files[i][1]) for n, i in enumerate(order)]
    step = 8 * max(args.jobs, 1)
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        for start in range(0, len(todo), step):  # in slices: stop once enough pages are found
            for outcome in pool.map(screen, todo[start : start + step]):
                if isinstance(outcome, str):
                    skipped[outcome] += 1
                elif len(specs) < args.limit:
                    specs.append(outcome)
            if len(specs) >= args.limit:
                break
    headlines = [s.headline or "Latest news" for s in specs]
    specs = [
        replace(
            spec,
            related_titles=(
                tuple(headlines[(i + k) % len(specs)] for k in (1, 2, 3)),
                tuple(headlines[(i + k) % len(specs)] for k in (4, 5, 6)),
            ),
        )
        for i, spec in enumerate(specs)
    ]
    screened = time.perf_counter() - started
    print(
        f"{len(files)} corpus pages; {len(specs)} used, {sum(skipped.values())} skipped "
        f"while looking ({screened:.1f} s)",
        flush=True,
    )

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-fidelity-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[PairResult] = []
    try:
        with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            futures = [
                pool.submit(run_kind, kind, specs, workdir, args.seed, not args.no_peer)
                for kind in kinds
            ]
            for future in futures:
                done = future.result()
                print(
                    f"  {done['kind']:<18} {len(done['results'])} pairs in {done['seconds']:.1f} s "
                    f"(ingest {done['ingest_seconds']:.1f} s)",
                    flush=True,
                )
                results.extend(PairResult(**r) for r in done["results"])
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    report(results, skipped, len(specs), args.show)
    mode = os.environ.get("NEWSLEDGER_EXTRACTION_MODE", "default")
    print(
        f"\nwall time {time.perf_counter() - started:.1f} s; extraction mode {mode}; "
        f"jobs {args.jobs}; seed {args.seed}"
    )
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
