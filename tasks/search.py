"""Full-text search over every revision of every story, with DuckDB's ``fts`` extension.

The extension is installed from the ``duckdb-extension-fts`` wheel (never downloaded). Its own
index (``PRAGMA create_fts_index``) can only be rebuilt from scratch: at 300,000 revisions that
took ~150 s (holding the ledger's only write lock) and ~1.4 GB, and each ``match_bm25`` query
scanned all ~100 M token rows (0.2-0.9 s; tests/benchmarks/bench_query.py --compare-fts). So
the index here is kept incrementally, with the extension's analyzer (its
tokenizer, English stop words and Porter ``stem``) and the same BM25 as ``match_bm25``:

* ``search_docs``: one document per revision (title + text), with its length in terms;
* ``search_terms``: stemmed terms and their ids; ``search_words``: every word form seen and
  the id of its stem, so a query is looked up without stemming (no extension needed to search;
  words the ledger never contained are stemmed with fts);
* ``search_postings``: (term, document, term frequency) in *runs*. Each refresh chunk appends
  one run sorted by term; runs of one level are merged (tiered, like an LSM tree) so a term's
  postings sit in few row groups that DuckDB's zonemaps find without reading the rest.

:func:`refresh_search_index` indexes only revisions not yet indexed (revisions are
append-only: equal counts mean nothing to do), one chunk per short write transaction so
readers and other writers get in between. :func:`search` ranks with BM25 and shows one row per
story by default (its best-matching revision, flagged when the match is only in older
revisions) or one row per revision.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
from newsledger.tasks.errors import NewsledgerError, SearchError
from newsledger.tasks.extensions import wheel_extension_file
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader, open_writer, sql
from newsledger.tasks.values import sql_string, utc_now

# Bump when the tokenizer, stop words or stemmer change: the index is then rebuilt.
ANALYZER = "fts:tokenize+english_stopwords+porter/v1"
SNIPPET_WORDS = 32
MAX_QUERY_TERMS = 64  # one bit each in a revision's match mask
log = logging.getLogger(__name__)


# --- the fts extension ------------------------------------------------------------------------


def fts_extension_file() -> Path:
    """The ``fts`` extension binary shipped in the ``duckdb-extension-fts`` wheel."""
    return wheel_extension_file("fts", SearchError)


def load_fts(conn: duckdb.DuckDBPyConnection) -> None:
    """Load ``fts`` from the wheel into this connection.

    It is also installed (copied) into DuckDB's extension folder when it is not there yet, so
    that ``LOAD fts`` works in a plain ``duckdb`` shell; that step is best effort."""
    path = fts_extension_file()
    try:
        installed = conn.execute(
            "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'fts'"
        ).fetchone()
        if not (installed and installed[0]):
            conn.execute(f"INSTALL {sql_string(str(path))}")
    except duckdb.Error:
        pass  # a read-only home folder: loading from the wheel below is enough
    try:
        conn.execute(f"LOAD {sql_string(str(path))}")
    except duckdb.Error as error:
        raise SearchError(f"cannot load the DuckDB fts extension from {path}: {error}") from error


def fts_stopwords() -> list[str]:
    """The fts extension's English stop words (read from a throwaway in-memory index)."""
    with duckdb.connect() as conn:
        load_fts(conn)
        conn.execute("CREATE TABLE probe (id INTEGER, body VARCHAR)")
        conn.execute("PRAGMA create_fts_index('probe', 'id', 'body', stopwords='english')")
        rows = conn.execute("SELECT DISTINCT sw FROM fts_main_probe.stopwords").fetchall()
    return sorted(row[0] for row in rows)


def porter_stems(words: Sequence[str]) -> list[str]:
    """The Porter stems (fts's ``stem``) of ``words``, in order, computed on a private
    in-memory DuckDB: the ledger's connection needs no extension, so a search can run on a
    locked-down reader (DuckDB shares one database instance, and its configuration, between a
    process's connections to one file: a web server's concurrent requests must all open it
    alike)."""
    with duckdb.connect() as conn:
        load_fts(conn)
        rows = conn.execute(
            "SELECT stem(word, 'porter') FROM unnest($words) WITH ORDINALITY AS w(word, n) "
            "ORDER BY n",
            {"words": list(words)},
        ).fetchall()
    return [str(row[0]) for row in rows]


# --- keeping the index current ----------------------------------------------------------------


@dataclass(frozen=True)
class IndexStatus:
    analyzer: str | None
    indexed_revisions: int
    revisions: int
    updated_at: datetime | None
    runs: int
    postings: int

    @property
    def behind(self) -> int:
        return max(0, self.revisions - self.indexed_revisions)

    @property
    def current(self) -> bool:
        return self.analyzer == ANALYZER and self.behind == 0


@dataclass
class RefreshReport:
    indexed: int = 0  # revisions added to the index by this refresh
    revisions: int = 0  # revisions in the ledger
    chunks: int = 0
    merges: int = 0
    rebuilt: bool = False
    seconds: float = 0.0

    @property
    def skipped(self) -> bool:
        return self.indexed == 0 and not self.rebuilt


def _status(conn: duckdb.DuckDBPyConnection) -> IndexStatus:
    row = conn.execute(sql("search_status")).fetchone()
    assert row is not None
    return IndexStatus(row[0], row[1], row[2], row[3], row[4], row[5])


def search_index_status(settings: Settings) -> IndexStatus:
    with open_reader(settings) as conn:
        return _status(conn)


def _run_script(conn: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> None:
    """Run each statement of ``tasks/sql/<name>.sql`` with the parameters it uses."""
    text = "\n".join(line for line in sql(name).splitlines() if not line.lstrip().startswith("--"))
    for body in (part.strip() for part in text.split(";")):
        if not body:
            continue
        used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", body)}
        conn.execute(body, used)


def _reset(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("BEGIN TRANSACTION")
    try:
        _run_script(conn, "search_reset", {})
        conn.execute(
            "INSERT INTO search_stopwords SELECT unnest($words)", {"words": fts_stopwords()}
        )
        _run_script(conn, "search_set_state", {"analyzer": ANALYZER, "now": utc_now()})
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _index_chunk(conn: duckdb.DuckDBPyConnection, limit: int) -> int:
    """Index the next ``limit`` unindexed revisions in one transaction; returns how many."""
    conn.execute("BEGIN TRANSACTION")
    try:
        first_row, last_row, count = conn.execute(
            sql("search_pending"), {"limit": limit}
        ).fetchone() or (None, None, 0)
        if not count:
            conn.execute("ROLLBACK")
            return 0
        next_doc, next_run = conn.execute(
            "SELECT (SELECT coalesce(max(doc_id), 0) + 1 FROM search_docs), "
            "(SELECT coalesce(max(run_id), 0) + 1 FROM search_runs)"
        ).fetchone() or (1, 1)
        _run_script(
            conn,
            "search_chunk",
            {"first_doc_id": next_doc, "first_row": first_row, "last_row": last_row},
        )
        _run_script(conn, "search_chunk_words", {})
        _run_script(conn, "search_add_chunk", {"run_id": next_run, "now": utc_now()})
        _run_script(conn, "search_set_state", {"analyzer": ANALYZER, "now": utc_now()})
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("DROP TABLE IF EXISTS search_chunk")
        conn.execute("DROP TABLE IF EXISTS search_chunk_words")
        conn.execute("DROP TABLE IF EXISTS search_chunk_stems")
    return int(count)


def _merge_runs(conn: duckdb.DuckDBPyConnection, fanout: int, max_postings: int) -> int:
    """Tiered merging: ``fanout`` runs of one level become one run of the next level, unless
    that would rewrite more than ``max_postings`` postings at once. Returns merges done."""
    merges = 0
    level = 0
    while True:
        runs = conn.execute(
            "SELECT run_id, postings FROM search_runs WHERE level = ? ORDER BY run_id", [level]
        ).fetchall()
        higher = conn.execute(
            "SELECT count(*) FROM search_runs WHERE level > ?", [level]
        ).fetchone()
        if len(runs) >= fanout and sum(r[1] for r in runs) <= max_postings:
            new_run = (
                conn.execute("SELECT coalesce(max(run_id), 0) + 1 FROM search_runs").fetchone()
                or (1,)
            )[0]
            conn.execute("BEGIN TRANSACTION")
            try:
                _run_script(
                    conn,
                    "search_merge_runs",
                    {
                        "run_ids": [r[0] for r in runs],
                        "new_run_id": new_run,
                        "level": level + 1,
                        "now": utc_now(),
                    },
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            merges += 1
        elif not runs and not (higher and higher[0]):
            return merges
        level += 1


def refresh_search_index(settings: Settings, *, rebuild: bool = False) -> RefreshReport:
    """Bring the full-text index up to date with the ledger; call it after each ingest.

    Cheap when nothing changed (two counts). Otherwise the new revisions are indexed in
    chunks of ``settings.search_chunk_revisions``, each its own short write transaction, and
    runs are merged. ``rebuild`` (or a changed analyzer) empties the index first."""
    start = time.perf_counter()
    report = RefreshReport()
    first = True
    while True:
        # Each chunk is one short write; the first one shares its connection (and the
        # extension load, ~45 ms) with the status check.
        with open_writer(settings) as conn:
            if first:
                status = _status(conn)
                report.revisions = status.revisions
                if status.current and not rebuild:
                    report.seconds = time.perf_counter() - start
                    return report
            load_fts(conn)
            if first and (rebuild or status.analyzer != ANALYZER):
                _reset(conn)
                report.rebuilt = True
            first = False
            indexed = _index_chunk(conn, settings.search_chunk_revisions)
            if indexed:
                report.indexed += indexed
                report.chunks += 1
                report.merges += _merge_runs(
                    conn, settings.search_merge_fanout, settings.search_max_merge_postings
                )
        if indexed < settings.search_chunk_revisions:
            break
    report.seconds = time.perf_counter() - start
    return report


def refresh_after_ingest(settings: Settings) -> RefreshReport | None:
    """:func:`refresh_search_index` for the end of an ingest run: an index that cannot be
    refreshed now (the ledger stayed locked, the extension is missing) must not fail the run
    that stored the revisions; it is logged, and the next refresh or search catches up."""
    try:
        return refresh_search_index(settings)
    except NewsledgerError as error:
        log.warning("the search index was not refreshed: %s", error)
        return None


# --- searching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    article_id: str
    identity: str
    revision: int  # the revision shown (see search_stories.sql)
    latest_revision: int  # the story's newest indexed revision
    observed_at: datetime
    title: str | None
    outlet: str | None
    score: float
    terms: tuple[str, ...]  # stemmed query terms this revision contains
    matching_revisions: int  # how many of the story's revisions match the query
    snippet: str
    highlights: tuple[str, ...] = field(default=())  # words of the snippet that matched

    @property
    def in_latest(self) -> bool:
        """False when this match is only in older revisions: the text was changed since."""
        return self.revision == self.latest_revision

    @property
    def note(self) -> str:
        if self.in_latest:
            return ""
        return (
            f"only in older revisions: rev {self.revision} is the last that matches, "
            f"the latest is rev {self.latest_revision}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "identity": self.identity,
            "revision": self.revision,
            "latest_revision": self.latest_revision,
            "in_latest": self.in_latest,
            "observed_at": self.observed_at.isoformat(),
            "title": self.title,
            "outlet": self.outlet,
            "score": self.score,
            "terms": list(self.terms),
            "matching_revisions": self.matching_revisions,
            "snippet": self.snippet,
            "note": self.note or None,
        }


@dataclass(frozen=True)
class SearchResults:
    query: str
    terms: tuple[str, ...]  # the query's terms found in the index (stemmed)
    hits: list[SearchHit]
    status: IndexStatus


def _since(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def search(
    settings: Settings,
    query: str,
    *,
    all_revisions: bool = False,
    since: date | datetime | None = None,
    limit: int = 10,
) -> SearchResults:
    """BM25 search over every indexed revision.

    By default one result per story: its best-matching revision (shown as the newest revision
    that still has the matching terms; ``in_latest`` is False when only older revisions match,
    i.e. the story no longer says it). ``all_revisions`` lists every matching revision.
    ``since`` keeps revisions observed at or after that time."""
    with open_reader(settings) as conn:
        ranking = rank(conn, query, all_revisions=all_revisions, since=since, limit=limit)
        return SearchResults(query, ranking.terms, hits(conn, ranking), ranking.status)


@dataclass(frozen=True)
class Ranking:
    """What :func:`rank` found: the query's terms and the ranked rows (article_id, revision,
    latest_revision, score, mask, matching_revisions), best first, without texts."""

    query: str
    term_of: dict[int, str]
    rows: list[tuple[Any, ...]]
    status: IndexStatus

    @property
    def termids(self) -> list[int]:
        return sorted(self.term_of)

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(self.term_of[t] for t in self.termids)

    @property
    def article_ids(self) -> list[str]:
        return [str(row[0]) for row in self.rows]


def rank(
    conn: duckdb.DuckDBPyConnection,
    query: str,
    *,
    all_revisions: bool = False,
    since: date | datetime | None = None,
    limit: int = 10,
) -> Ranking:
    """The BM25 ranking of :func:`search` on an open read-only connection (locked down or
    not), without the hits' texts and snippets (:func:`hits` makes those)."""
    if limit < 1:
        raise SearchError("--limit must be at least 1")
    status = _status(conn)
    term_of = query_terms(conn, query)
    if not term_of:
        return Ranking(query, term_of, [], status)
    termids = sorted(term_of)
    conn.execute(
        sql("search_hits")
        .replace("/*termids*/", ", ".join(map(str, termids)))
        .replace("/*termbits*/", ", ".join(f"({t}, {bit})" for bit, t in enumerate(termids))),
        {"since": _since(since)},
    )
    statement = "search_revision_hits" if all_revisions else "search_stories"
    rows = conn.execute(sql(statement), {"limit": limit}).fetchall()
    conn.execute("DROP TABLE IF EXISTS search_matches")
    return Ranking(query, term_of, rows, status)


def hits(
    conn: duckdb.DuckDBPyConnection, ranking: Ranking, article_ids: Sequence[str] | None = None
) -> list[SearchHit]:
    """The hits of a ranking (of the stories ``article_ids`` only, when given), with their
    titles and snippets, in ranking order."""
    rows = ranking.rows
    if article_ids is not None:
        wanted = set(article_ids)
        rows = [row for row in rows if row[0] in wanted]
    if not rows:
        return []
    termids = ranking.termids
    details: dict[tuple[str, int], tuple[Any, ...]] = {}
    ids = ", ".join(sorted({sql_string(str(row[0])) for row in rows}))
    for detail in conn.execute(sql("search_hit_detail").replace("/*article_ids*/", ids)).fetchall():
        details[detail[0], detail[1]] = detail[2:]
    presents = [[t for bit, t in enumerate(termids) if int(row[4]) >> bit & 1] for row in rows]
    texts = [details[row[0], row[1]][4] or "" for row in rows]
    # One lookup of every word of every text shown (a query per hit cost ~2 ms each).
    found = matching_words(conn, [w for text in texts for w in text.split()], termids)
    found_hits = []
    for row, present, text in zip(rows, presents, texts, strict=True):
        article_id, revision, latest, score, _mask, matching = row
        identity, title, observed_at, outlet, _text = details[article_id, revision]
        snippet, highlights = snippet_of(text, found if present else set())
        found_hits.append(
            SearchHit(
                article_id,
                identity,
                revision,
                latest,
                observed_at,
                title,
                outlet,
                float(score),
                tuple(ranking.term_of[t] for t in present),
                int(matching),
                snippet,
                highlights,
            )
        )
    return found_hits


def query_terms(conn: duckdb.DuckDBPyConnection, query: str) -> dict[int, str]:
    """The indexed terms of a query, by id: its words are looked up among the word forms the
    ledger contains; words it never contained are stemmed (:func:`porter_stems`) and looked up
    among the stems, so the result is exactly what stemming every query word would give. Only
    plain reads run on ``conn``: any read-only connection will do, a locked-down one too."""
    found: dict[int, str] = {}
    unknown: list[str] = []
    for word, termid, term in conn.execute(sql("search_query_terms"), {"query": query}).fetchall():
        if termid is None:
            unknown.append(word)
        else:
            found[int(termid)] = str(term)
    if unknown:
        for termid, term in conn.execute(
            sql("search_stem_terms"), {"stems": porter_stems(unknown)}
        ).fetchall():
            found[int(termid)] = str(term)
    if len(found) > MAX_QUERY_TERMS:
        raise SearchError(f"a query can have at most {MAX_QUERY_TERMS} different terms")
    return found


def matching_words(
    conn: duckdb.DuckDBPyConnection, words: Sequence[str], termids: Sequence[int]
) -> set[str]:
    """Which of ``words`` (as they appear in a text) contain a form of one of ``termids``."""
    if not words or not termids:
        return set()
    # Words are passed joined: a Python list parameter is converted value by value (slow).
    statement = sql("search_snippet_words").replace(
        "/*termids*/", ", ".join(str(int(t)) for t in termids)
    )
    return {row[0] for row in conn.execute(statement, {"words": "\n".join(set(words))}).fetchall()}


def snippet_of(
    text: str, found: set[str], width: int = SNIPPET_WORDS
) -> tuple[str, tuple[str, ...]]:
    """About ``width`` words of ``text`` around the densest cluster of the words ``found``
    (:func:`matching_words`), and the words that matched (for highlighting)."""
    words = text.split()
    if not words or not found:
        return " ".join(words[:width]) + (" …" if len(words) > width else ""), ()
    matched = [w in found for w in words]
    positions = [i for i, hit in enumerate(matched) if hit]
    start = 0
    if positions:
        best, best_count = positions[0], 0
        for i in positions:  # the window starting near i with the most matching words
            count = sum(1 for j in positions if i <= j < i + width * 2 // 3)
            if count > best_count:
                best, best_count = i, count
        start = max(0, best - width // 3)
    end = min(len(words), start + width)
    start = max(0, min(start, end - width))
    snippet = " ".join(words[start:end])
    if start > 0:
        snippet = "… " + snippet
    if end < len(words):
        snippet += " …"
    highlights = tuple(sorted({words[i] for i in range(start, end) if matched[i]}))
    return snippet, highlights


def make_snippet(
    conn: duckdb.DuckDBPyConnection,
    text: str,
    termids: Sequence[int],
    width: int = SNIPPET_WORDS,
) -> tuple[str, tuple[str, ...]]:
    """About ``width`` words of ``text`` around the densest cluster of words that are forms of
    the terms ``termids``, and the words that matched (for highlighting)."""
    return snippet_of(text, matching_words(conn, text.split(), termids), width)


def parse_since(value: str) -> datetime:
    """A ``--since`` value: a date (YYYY-MM-DD, midnight UTC) or an ISO date-time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise SearchError(
            f"--since {value!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM)"
        ) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


__all__ = [
    "ANALYZER",
    "IndexStatus",
    "Ranking",
    "RefreshReport",
    "SearchError",
    "SearchHit",
    "SearchResults",
    "fts_extension_file",
    "fts_stopwords",
    "hits",
    "load_fts",
    "make_snippet",
    "matching_words",
    "parse_since",
    "query_terms",
    "rank",
    "refresh_after_ingest",
    "refresh_search_index",
    "search",
    "search_index_status",
    "snippet_of",
]
