"""Quality benchmark (a script): the project's HTML path vs trafilatura's default, same bytes,
same run. Corpus given by path: trafilatura's tests dir (evaldata.json + cache/), or
htmldate's tests dir (eval_default.json + cache/: then only dates are scored).

    PYTHONPATH=tests/shim python tests/benchmarks/bench_quality.py --mode extraction CORPUS_DIR

Measures: body (trafilatura's with/without snippet precision/recall/F1; the corpus has no full
gold text, so no shingle F1 here), title (normalised equality), authors (set of name tokens
equal), date (day), mojibake pages, pages/s and CPU per page. ``--mode fidelity`` is reserved
for the change-fidelity benchmark (not written yet).
"""

from __future__ import annotations

import argparse
import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trafilatura
from newsledger.tasks.clean import clean_html_document
from newsledger.tasks.metadata import describe
from newsledger.tasks.models import SourceDocument

MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[\u00a0-\u00bf]|\ufffd")


def norm(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(re.findall(r"\w+", text))


def tokens(authors: Any) -> set[str]:
    if isinstance(authors, (list, tuple)):
        authors = " ".join(authors)
    return set(norm(str(authors or "")).split())


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    title: list[int] = field(default_factory=list)
    authors: list[int] = field(default_factory=list)
    date: list[int] = field(default_factory=list)
    mojibake: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    pages: int = 0
    failures: int = 0

    def add_body(self, text: str, entry: dict[str, Any]) -> None:
        for snippet in entry.get("with") or []:
            if snippet in text:
                self.tp += 1
            else:
                self.fn += 1
        for snippet in entry.get("without") or []:
            if snippet in text:
                self.fp += 1
            else:
                self.tn += 1

    def row(self) -> dict[str, float]:
        precision = self.tp / max(self.tp + self.fp, 1)
        recall = self.tp / max(self.tp + self.fn, 1)
        mean = lambda xs: sum(xs) / max(len(xs), 1)  # noqa: E731
        return {
            "body_P": precision,
            "body_R": recall,
            "body_F1": 2 * precision * recall / max(precision + recall, 1e-9),
            "title": mean(self.title),
            "authors": mean(self.authors),
            "date_day": mean(self.date),
            "mojibake_pages": self.mojibake,
            "failures": self.failures,
            "pages_per_s": self.pages / max(self.wall, 1e-9),
            "cpu_ms_per_page": 1000 * self.cpu / max(self.pages, 1),
        }


def project(raw: bytes, name: str, url: str) -> dict[str, Any]:
    document = SourceDocument(
        kind="html", source=name, raw=raw, identity=name, raw_hash="", url=url
    )
    article = describe(document, clean_html_document(raw, name, url=url))
    day = str(article.published_at) if article.published_at else None
    return {"text": article.text, "title": article.title, "authors": article.authors, "date": day}


def baseline(raw: bytes, name: str, url: str) -> dict[str, Any]:
    doc = trafilatura.bare_extraction(raw, url=url, with_metadata=True)
    if doc is None:
        raise ValueError("no extraction")
    return {"text": doc.text or "", "title": doc.title, "authors": doc.author, "date": doc.date}


def run(corpus: Path, limit: int | None) -> None:
    gold_file = corpus / "evaldata.json"
    if not gold_file.exists():  # htmldate's tests dir: url -> {file, date}; dates only
        gold_file = corpus / "eval_default.json"
    gold = json.loads(gold_file.read_text())
    items = list(gold.items())[:limit]
    scores = {"newsledger": Score(), "trafilatura": Score()}
    coverage = {"title": 0, "authors": 0, "date": 0}
    for url, entry in items:
        path = corpus / "cache" / entry["file"]
        if not path.exists():
            continue
        raw = path.read_bytes()
        for key in coverage:
            coverage[key] += bool(entry.get("author" if key == "authors" else key))
        for label, function in (("newsledger", project), ("trafilatura", baseline)):
            score = scores[label]
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                out = function(raw, entry["file"], url)
            except Exception:  # a failed page scores as empty output
                out = {"text": "", "title": None, "authors": None, "date": None}
                score.failures += 1
            score.cpu += time.process_time() - cpu
            score.wall += time.perf_counter() - wall
            score.pages += 1
            score.add_body(out["text"], entry)
            score.mojibake += bool(MOJIBAKE.search(out["text"] + (out["title"] or "")))
            if entry.get("title"):
                score.title.append(int(norm(out["title"]) == norm(entry["title"])))
            if entry.get("author"):
                score.authors.append(int(tokens(out["authors"]) == tokens(entry["author"])))
            if entry.get("date"):
                score.date.append(int((out["date"] or "")[:10] == entry["date"][:10]))
    scored = scores["newsledger"].pages
    print(f"{gold_file.name}: {len(items)} entries, {scored} pages on disk; gold: {coverage}")
    rows = {label: s.row() for label, s in scores.items()}
    print(f"{'measure':<16}" + "".join(f"{label:>14}" for label in rows))
    for measure in rows["newsledger"]:
        print(f"{measure:<16}" + "".join(f"{rows[k][measure]:>14.3f}" for k in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", type=Path, help="trafilatura tests dir (evaldata.json, cache/)")
    parser.add_argument("--mode", choices=["extraction", "fidelity"], default="extraction")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if args.mode == "fidelity":
        raise SystemExit("--mode fidelity: not implemented yet")
    run(args.corpus, args.limit)


if __name__ == "__main__":
    main()
