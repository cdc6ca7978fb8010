"""How often the feed's metadata would stand in for the page's (``story_metadata``): extract
every HTML page of a folder and count the stories whose page states no title, no author or
no publication time. The fallback is read-time only (the revisions never take the feed's
values; tests/test_feed_metadata.py checks that a poll and a plain URL ingest store the same
content hashes), so what it can cost is nothing stored; this measures what it can give.

    .venv/bin/python tests/benchmarks/bench_feed_fallback.py FOLDER [LIMIT]
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shim"))

from newsledger.tasks.models import ExtractedArticle, SourceDocument
from newsledger.tasks.pipeline import extract_document


def main() -> None:
    folder = Path(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    paths = sorted(folder.rglob("*.html"))[:limit]
    counts = {"pages": 0, "stored": 0, "no_title": 0, "no_author": 0, "no_published": 0}
    start = time.perf_counter()
    for path in paths:
        raw = path.read_bytes()
        identity = f"https://example.com/{path.name}"
        document = SourceDocument(
            identity, identity, "url", raw, hashlib.sha256(raw).hexdigest(), url=identity
        )
        counts["pages"] += 1
        result = extract_document(document)
        if not isinstance(result, ExtractedArticle):
            continue
        counts["stored"] += 1
        content = result.content
        counts["no_title"] += content.title is None
        counts["no_author"] += not content.authors
        counts["no_published"] += content.published_at is None
    elapsed = time.perf_counter() - start
    stored = max(counts["stored"], 1)
    print(f"{counts['pages']} pages, {counts['stored']} stored, {elapsed:.1f} s")
    for key in ("no_title", "no_author", "no_published"):
        print(f"{key:>13}: {counts[key]:4d} ({100 * counts[key] / stored:.1f} % of stored)")


if __name__ == "__main__":
    main()
