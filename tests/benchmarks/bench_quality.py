"""Quality benchmark (a script, not a test): the project's HTML path vs trafilatura's default,
same bytes, same run. The development corpus is given by path:

* trafilatura's ``tests`` dir: ``evaldata.json`` pairs each page (in ``cache/`` or ``eval/``)
  with gold snippets that must / must not be in the body, and its title, author and date;
* htmldate's ``tests`` dir: ``eval_default.json`` (pages in ``cache/`` or ``eval/``; dates only).

    PYTHONPATH=tests/shim python tests/benchmarks/bench_quality.py CORPUS_DIR
    PYTHONPATH=tests/shim python tests/benchmarks/bench_quality.py CORPUS_DIR --modes fast precise

Columns: the project in each extraction mode asked for (``--modes``), trafilatura's default
(``bare_extraction(bytes)``: its own decoding, ``fast=False``, comments included) and the same
without comments (``traf-nocomments``, as the project extracts). Rows:

* body P/R/F1 with trafilatura's own metric: a gold "with" snippet in the text is a true
  positive, a "without" snippet a false positive (the corpus has no full gold text, so no
  word-shingle F1 is possible here);
* ``half_of_traf``: pages where a column keeps fewer than half the words (``\\w+`` tokens) of
  trafilatura's main text (its default without comments: ``traf-nocomments``; the target is
  0), ``half_of_traf_default`` the same against trafilatura's default text, whose comments the
  project never keeps as article text; ``empty``: pages with no text at all;
* title (normalised equality), authors (the set of name tokens equal, the words "and", "und",
  "et" that join names in a byline left out on both sides), date (day), and
  ``date_time`` (to the minute, in UTC) on the pages whose gold states a time;
* mojibake pages (UTF-8 read as a single-byte encoding, U+FFFD) in the text or the title;
* pages/s and CPU ms per page (process time of the extraction call, one process).

For the project, the table also scores the two candidate texts: ``extracted`` (trafilatura's
blocks as the project keeps them) and ``article_body`` (JSON-LD ``articleBody``, on the pages
that have one), with how often the rule chose ``articleBody``. ``--worst N`` lists the pages
where the project keeps least of what trafilatura keeps.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trafilatura
from newsledger.tasks.clean import clean_html_document
from newsledger.tasks.metadata import describe
from newsledger.tasks.models import SourceDocument

# UTF-8 read as windows-1252/latin-1 ("Ã©", "â€™", "Ð¾"), and replacement characters
MOJIBAKE = re.compile(
    "[ÂÃÐÑ][\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]|â€[\u0080-\u00bf™œ\u009d“”˜]|\ufffd"
)
PAGE_DIRS = ("cache", "eval", "test_set")


def norm(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(re.findall(r"\w+", text))


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))


# Words that join names in a byline ("A und B", "A and B", "A et B"): the gold states some
# author lists as such a byline, while an extractor that splits the list right returns the two
# names alone. They are no one's name and are ignored on both sides.
CONNECTORS = {"and", "und", "et"}


def tokens(authors: Any) -> set[str]:
    if isinstance(authors, (list, tuple)):
        authors = " ".join(authors)
    return set(norm(str(authors or "")).split()) - CONNECTORS


def minute_utc(value: str | None) -> str | None:
    if not value or len(value) <= 10:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M")


@dataclass
class Body:
    """trafilatura's snippet counts for one candidate text."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    pages: int = 0

    def add(self, text: str, entry: dict[str, Any]) -> None:
        flat = squash(text)
        self.pages += 1
        for snippet in entry.get("with") or []:
            if squash(snippet) in flat:
                self.tp += 1
            else:
                self.fn += 1
        for snippet in entry.get("without") or []:
            if squash(snippet) in flat:
                self.fp += 1
            else:
                self.tn += 1

    def prf(self) -> tuple[float, float, float]:
        precision = self.tp / max(self.tp + self.fp, 1)
        recall = self.tp / max(self.tp + self.fn, 1)
        return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)


@dataclass
class Score:
    body: Body = field(default_factory=Body)
    extracted: Body = field(default_factory=Body)
    article_body: Body = field(default_factory=Body)
    chose_article_body: int = 0
    title: list[int] = field(default_factory=list)
    authors: list[int] = field(default_factory=list)
    authors_person: list[int] = field(default_factory=list)  # gold not the outlet
    date: list[int] = field(default_factory=list)
    date_time: list[int] = field(default_factory=list)
    mojibake: int = 0
    half: int = 0
    half_default: int = 0
    empty: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    pages: int = 0
    failures: int = 0

    def row(self) -> dict[str, float | None]:
        mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
        precision, recall, f1 = self.body.prf() if self.body.pages else (None, None, None)
        row: dict[str, float | None] = {
            "body_P": precision,
            "body_R": recall,
            "body_F1": f1,
            "half_of_traf": self.half,
            "half_of_traf_default": self.half_default,
            "empty": self.empty,
            "title": mean(self.title),
            "authors": mean(self.authors),
            "authors_gold_person": mean(self.authors_person),
            "date_day": mean(self.date),
            f"date_time(n={len(self.date_time)})": mean(self.date_time),
            "mojibake_pages": self.mojibake,
            "failures": self.failures,
            "pages_per_s": self.pages / max(self.wall, 1e-9),
            "cpu_ms_per_page": 1000 * self.cpu / max(self.pages, 1),
        }
        if self.extracted.pages:
            row["F1_extracted"] = self.extracted.prf()[2]
            row[f"F1_jsonld_body(n={self.article_body.pages})"] = self.article_body.prf()[2]
            row["chose_jsonld_body"] = self.chose_article_body
        return row


def project(mode: str) -> Callable[[bytes, str, str], dict[str, Any]]:
    def run(raw: bytes, name: str, url: str) -> dict[str, Any]:
        document = SourceDocument(
            kind="html", source=name, raw=raw, identity=name, raw_hash="", url=url
        )
        cleaned = clean_html_document(raw, name, url=url, mode=mode)
        article = describe(document, cleaned)
        structured = cleaned.page.get("structured")
        outlets = [article.outlet, cleaned.page.get("sitename"), cleaned.page.get("hostname")]
        if structured is not None:
            outlets += [structured.outlet, structured.site_name, structured.host]
        return {
            "text": article.text,
            "title": article.title,
            "authors": article.authors,
            "outlets": [o for o in outlets if o],
            "date": str(article.published_at) if article.published_at else None,
            "date_time": article.metadata.get("published_at_iso"),
            "extracted": cleaned.page.get("extracted_text", article.text),
            "article_body": structured.article_body if structured is not None else None,
            "body_source": cleaned.page.get("body_source", "extracted"),
        }

    return run


def baseline(raw: bytes, name: str, url: str, **options: Any) -> dict[str, Any]:
    doc = trafilatura.bare_extraction(raw, url=url, with_metadata=True, **options)
    if doc is None:
        raise ValueError("no extraction")
    return {
        "text": doc.text or "",
        "title": doc.title,
        "authors": doc.author,
        "date": doc.date,
        "date_time": doc.date,
    }


def htmldate_alone(raw: bytes, name: str, url: str) -> dict[str, Any]:
    """htmldate by itself on the bytes, as its own evaluation runs it (``original_date``,
    extensive search): a date-only column, independent of trafilatura and the project."""
    import htmldate

    found = htmldate.find_date(raw, original_date=True, extensive_search=True, url=url)
    return {"text": "", "title": None, "authors": None, "date": found, "date_time": None}


DATE_ONLY = {"htmldate"}


def is_outlet(gold: Any, outlets: list[str]) -> bool:
    """The gold author is the outlet itself (its name, site name or host name, spaces and
    punctuation aside): the corpus states such bylines, the project never takes an outlet for
    an author, so these pages are counted apart."""
    key = norm(" ".join(gold) if isinstance(gold, (list, tuple)) else str(gold)).replace(" ", "")
    names = set()
    for outlet in outlets:
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", outlet.casefold())
        names |= {norm(outlet).replace(" ", ""), norm(host.split("/")[0]).replace(" ", "")}
        names.add(norm(re.sub(r"\.[a-z.]{2,6}$", "", host.split("/")[0])).replace(" ", ""))
    return bool(key) and key in names


def resolve(corpus: Path, name: str) -> Path | None:
    return next((p for d in PAGE_DIRS if (p := corpus / d / name).is_file()), None)


def preload() -> dict[str, float]:
    """Load what the extractors load once per process on first need, outside the timings: the
    first page whose date needs dateparser loads all its locales (3-4 s here), the first page
    trafilatura hands to jusText loads every stop list (~0.5 s), the first text without a
    declared language loads py3langid's model (~0.6 s). Left in, they were charged to whichever
    column met such a page first (the project's, which runs first): 44 ms a page over 120
    pages. An ingest pays them once per extraction worker."""
    import htmldate.extractors
    import py3langid
    import trafilatura.external

    loads: dict[str, Callable[[], Any]] = {
        # a parse in an unnamed language loads every locale (the parser alone loads none)
        "dateparser locales (htmldate)": lambda: (
            htmldate.extractors.external_date_parser("21 juin 2018", "%Y-%m-%d"),
            getattr(htmldate.extractors, "month_words", lambda: None)(),
        ),
        "jusText stop lists (trafilatura)": trafilatura.external.jt_stoplist_init,
        "py3langid model (newsledger)": lambda: py3langid.classify("a few words of text here"),
    }
    seconds: dict[str, float] = {}
    for what, load in loads.items():
        started = time.process_time()
        load()
        seconds[what] = time.process_time() - started
    return seconds


EMPTY: dict[str, Any] = {"text": "", "title": None, "authors": None, "date": None}


def run(
    corpus: Path,
    limit: int | None,
    modes: list[str],
    worst: int,
    dump: Path | None = None,
    disagreements: int = 0,
) -> None:
    gold_file = corpus / "evaldata.json"
    if not gold_file.exists():  # htmldate's tests dir: url -> {file, date}; dates only
        gold_file = corpus / "eval_default.json"
    gold = json.loads(gold_file.read_text(encoding="utf-8"))
    items = list(gold.items())[:limit]
    runners: dict[str, Callable[[bytes, str, str], dict[str, Any]]] = {
        f"newsledger-{mode}": project(mode) for mode in modes
    }
    runners["trafilatura"] = baseline
    runners["traf-nocomments"] = lambda raw, name, url: baseline(
        raw, name, url, include_comments=False
    )
    runners["htmldate"] = htmldate_alone
    date_rows: list[tuple[str, str, dict[str, str | None]]] = []
    author_rows: list[tuple[str, bool, Any, dict[str, Any]]] = []
    scores = {label: Score() for label in runners}
    coverage = {"title": 0, "authors": 0, "date": 0, "date_time": 0}
    missing = 0
    ratios: dict[str, list[tuple[float, int, int, str]]] = {label: [] for label in runners}
    mojibake: dict[str, list[str]] = {label: [] for label in runners}
    per_page: list[dict[str, Any]] = []
    scored_pages = 0
    # warm-up (imports, caches) outside the timings: the one-time loads first, then one page
    # through every runner
    for what, seconds in preload().items():
        print(f"one-time load outside the timings: {what} {seconds:.2f} s")
    for url, entry in items[:1]:
        if first := resolve(corpus, entry["file"]):
            for function in runners.values():
                try:
                    function(first.read_bytes(), entry["file"], url)
                except Exception as error:  # scored again below
                    print(f"warm-up: {type(error).__name__}: {error}")
    started = time.perf_counter()
    for url, entry in items:
        path = resolve(corpus, entry["file"])
        if path is None:
            missing += 1
            continue
        raw = path.read_bytes()
        gold_date = entry.get("date") if isinstance(entry.get("date"), str) else None
        coverage["title"] += bool(entry.get("title"))
        coverage["authors"] += bool(entry.get("author"))
        coverage["date"] += bool(gold_date)
        coverage["date_time"] += bool(minute_utc(gold_date))
        outputs: dict[str, dict[str, Any]] = {}
        outlet_gold = False
        # each page starts with the next runner in turn: what one runner leaves warm for the
        # same page does not favour a fixed column
        labels = list(runners)
        turn = scored_pages % len(labels)
        scored_pages += 1
        for label in labels[turn:] + labels[:turn]:
            function = runners[label]
            score = scores[label]
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                out = function(raw, entry["file"], url)
            except Exception:  # a failed page scores as empty output
                out = dict(EMPTY)
                score.failures += 1
            score.cpu += time.process_time() - cpu
            score.wall += time.perf_counter() - wall
            if label.startswith("newsledger") and entry.get("author") and not outlet_gold:
                outlet_gold = is_outlet(entry["author"], out.get("outlets") or [])
            score.pages += 1
            outputs[label] = out
        for label in labels:  # scored in column order, once every runner has run
            score, out = scores[label], outputs[label]
            if label in DATE_ONLY:
                if gold_date:
                    score.date.append(int((out["date"] or "")[:10] == gold_date[:10]))
                continue
            if entry.get("with") is not None:
                score.body.add(out["text"], entry)
                if "extracted" in out:
                    score.extracted.add(out["extracted"], entry)
                    if out.get("article_body"):
                        score.article_body.add(out["article_body"], entry)
                    score.chose_article_body += out.get("body_source") == "structured"
            score.empty += not out["text"].strip()
            score.mojibake += bool(MOJIBAKE.search(out["text"] + (out["title"] or "")))
            if entry.get("title"):
                score.title.append(int(norm(out["title"]) == norm(entry["title"])))
            if entry.get("author"):
                right = int(tokens(out["authors"]) == tokens(entry["author"]))
                score.authors.append(right)
                if not outlet_gold:
                    score.authors_person.append(right)
            if gold_date:
                score.date.append(int((out["date"] or "")[:10] == gold_date[:10]))
                if want := minute_utc(gold_date):
                    score.date_time.append(int(minute_utc(out.get("date_time")) == want))
        if gold_date:
            date_rows.append(
                (entry["file"], gold_date, {k: (o.get("date") or None) for k, o in outputs.items()})
            )
        if entry.get("author"):
            author_rows.append(
                (
                    entry["file"],
                    outlet_gold,
                    entry["author"],
                    {k: o.get("authors") for k, o in outputs.items()},
                )
            )
        if dump is not None:
            row: dict[str, Any] = {"file": entry["file"]}
            for label, out in outputs.items():
                counts = Body()
                counts.add(out["text"], entry)
                row[label] = [counts.tp, counts.fn, counts.fp, counts.tn, words(out["text"])]
            per_page.append(row)
        theirs = words(outputs["traf-nocomments"]["text"])
        with_comments = words(outputs["trafilatura"]["text"])
        for label, out in outputs.items():
            if label in DATE_ONLY:
                continue
            ours = words(out["text"])
            if theirs:
                ratios[label].append((ours / theirs, ours, theirs, entry["file"]))
                scores[label].half += ours < theirs / 2
            scores[label].half_default += ours < with_comments / 2
            if MOJIBAKE.search(out["text"] + (out["title"] or "")):
                mojibake[label].append(entry["file"])
    scored = scores["trafilatura"].pages
    print(
        f"{gold_file.name}: {len(items)} entries, {scored} pages scored ({missing} not on "
        f"disk) in {time.perf_counter() - started:.0f} s; gold: {coverage}"
    )
    rows = {label: s.row() for label, s in scores.items()}
    width = max(len(label) for label in rows) + 2
    measures = list(dict.fromkeys(m for row in rows.values() for m in row))
    print(f"{'measure':<26}" + "".join(f"{label:>{width}}" for label in rows))
    for measure in measures:
        cells = []
        for label in rows:
            value = rows[label].get(measure)
            cells.append(f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}")
        print(f"{measure:<26}" + "".join(cells))
    if dump is not None:
        dump.write_text(json.dumps(per_page, ensure_ascii=False), encoding="utf-8")
    for label, pages in mojibake.items():
        if pages:
            print(f"{label}: mojibake in {', '.join(pages)}")
    project_labels = [label for label in runners if label.startswith("newsledger")]
    if author_rows:
        outlet_pages = [row for row in author_rows if row[1]]
        print(
            f"\nauthors: {len(author_rows)} gold entries, {len(outlet_pages)} of them the outlet "
            "itself (counted apart above as authors_gold_person)"
        )
        for label in (*project_labels, "trafilatura"):
            right = sum(tokens(r[3][label]) == tokens(r[2]) for r in outlet_pages)
            lost = (len(outlet_pages) - right) / len(author_rows)
            print(
                f"  {label}: right on {right} of the {len(outlet_pages)} outlet-gold pages; "
                f"they cost {100 * lost:.1f} points of the authors score"
            )
        wrong = [r for r in author_rows if tokens(r[3][project_labels[0]]) != tokens(r[2])]
        for file, outlet_gold, gold, got in wrong[:disagreements]:
            print(
                f"  author {file}: gold={gold!r}{' (outlet)' if outlet_gold else ''} "
                f"ours={got[project_labels[0]]!r} traf={got['trafilatura']!r}"
            )
    if date_rows and project_labels:
        ours = project_labels[0]
        differ = [r for r in date_rows if (r[2][ours] or "")[:10] != (r[2]["htmldate"] or "")[:10]]
        print(
            f"\ndates: {ours} and htmldate alone state a different day on {len(differ)} of "
            f"{len(date_rows)} pages; {ours} vs trafilatura on "
            f"{sum((r[2][ours] or '')[:10] != (r[2]['trafilatura'] or '')[:10] for r in date_rows)}"
        )
        for file, gold_date, got in differ[:disagreements]:
            print(
                f"  {file}: gold {gold_date[:10]}  {ours} {got[ours]}  htmldate {got['htmldate']}"
                f"  trafilatura {got['trafilatura']}"
            )
        wrong_days = [r for r in date_rows if (r[2][ours] or "")[:10] != r[1][:10]]
        print(f"\ndates: {ours} states a day other than the gold's on {len(wrong_days)} pages")
        for file, gold_date, got in wrong_days[:disagreements]:
            print(
                f"  wrong {file}: gold {gold_date}  {ours} {got[ours]}  htmldate {got['htmldate']}"
            )
    for label in runners:
        if worst and label.startswith("newsledger"):
            print(f"\n{label}: pages keeping least of what trafilatura keeps (ours/theirs words)")
            for ratio, ours, theirs, name in sorted(ratios[label])[:worst]:
                print(f"  {ratio:5.2f}  {ours:>6} / {theirs:<6} {name}")


def main() -> None:
    argv = sys.argv[1:]
    if "--mode=fidelity" in argv or any(
        a == "--mode" and b == "fidelity" for a, b in itertools.pairwise(argv)
    ):
        # change fidelity: its own options (several corpora, --jobs, --kinds, ...)
        import bench_fidelity

        rest = [a for a in argv if a != "--mode=fidelity"]
        if "--mode" in rest:
            at = rest.index("--mode")
            del rest[at : at + 2]
        raise SystemExit(bench_fidelity.main(rest))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", type=Path, help="trafilatura's or htmldate's tests dir")
    parser.add_argument("--mode", choices=["extraction", "fidelity"], default="extraction")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=["fast", "precise"],
        default=["fast", "precise"],
        help="the project's extraction modes to score (default: both)",
    )
    parser.add_argument("--limit", type=int, default=None, help="score the first N entries")
    parser.add_argument("--worst", type=int, default=5, help="list the N worst-kept pages")
    parser.add_argument("--dump", type=Path, help="write per-page snippet counts (JSON) here")
    parser.add_argument(
        "--disagreements",
        type=int,
        default=0,
        help="list N pages where the project's day differs from htmldate's, N where it "
        "differs from the gold, and the pages where its authors differ from the gold",
    )
    args = parser.parse_args()
    run(args.corpus, args.limit, args.modes, args.worst, args.dump, args.disagreements)


if __name__ == "__main__":
    main()
