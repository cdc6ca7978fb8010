"""Benchmark of the read side: views, time travel, history and full-text search on a large ledger.

Not collected by pytest. Run it from the repository root:

    .venv/bin/python tests/benchmarks/bench_query.py            # 100,000 stories, 300,000 revisions
    .venv/bin/python tests/benchmarks/bench_query.py --stories 10000 --keep /tmp/bench.duckdb

The ledger is generated with DuckDB SQL itself (fast) into a file created by our migrations, so
the schema, views, macros and indexes are the real ones. Stories have 1-5 revisions (3 on
average); each revision edits one paragraph of the previous one and sometimes appends one or
changes the title, like real corrections and updates. Texts are ~600 words drawn from a Zipf-like
vocabulary (common English words first), so the full-text index sees realistic term statistics.
Revisions are inserted in the order they were observed, as ingests would write them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "shim"))

import duckdb  # noqa: E402
from newsledger.tasks.search import (  # noqa: E402
    refresh_search_index,
    search,
    search_index_status,
)
from newsledger.tasks.settings import Settings  # noqa: E402
from newsledger.tasks.store import (  # noqa: E402
    ensure_ledger,
    open_reader,
    sql,
    story_summary_statement,
)

COMMON_WORDS = (
    "the of and to a in that is was he for it with as his on be at by i this had not are but "
    "from or have an they which one you were her all she there would their we him been has when "
    "who will more no if out so said what up its about into than them can only other new some "
    "could time these two may then do first any my now such like our over man me even most made "
    "after also did many before must through back years where much your way well down should "
    "because each just those people mr how too little state good very make world still own see "
    "men work long get here between both life being under never day same another know while last "
    "might us great old year off come since against go came right used take three minister "
    "government police officials president war military city country report statement"
)
COMMON = COMMON_WORDS.split()
SYLLABLE_TEXT = (
    "ka lo mi ter son vel ra ne dor pa li su an ber gu to fi chel mar ko res tal "
    "vi en dra po lu nik sa or ti ba el mo ru zan de qui hal"
)
SYLLABLES = SYLLABLE_TEXT.split()
VOCABULARY = 40_000


def generate(conn: duckdb.DuckDBPyConnection, stories: int) -> None:
    """Fill an empty, migrated ledger with ``stories`` stories (3 revisions each on average)."""
    syllables = "[" + ", ".join(f"'{s}'" for s in SYLLABLES) + "]"
    common = "[" + ", ".join(f"'{w}'" for w in COMMON) + "]"
    n_syl = len(SYLLABLES)

    def syllable(key: str) -> str:
        return f"{syllables}[1 + (hash(i, '{key}') % {n_syl})::BIGINT]"

    conn.execute(f"""
        SET VARIABLE vocab = (
            SELECT list(w ORDER BY k) FROM (
                SELECT k, w FROM (
                    SELECT unnest({common}) AS w, generate_subscripts({common}, 1) AS k
                )
                UNION ALL
                SELECT {len(COMMON)} + i AS k,
                       {syllable("a")} || {syllable("b")}
                       || CASE WHEN i % 3 = 0 THEN '' ELSE {syllable("c")} END
                       || CASE WHEN i % 4 = 0 THEN {syllable("d")} ELSE '' END
                       AS w
                FROM range({VOCABULARY}) AS t(i)
            )
        )""")
    # A Zipf-like pick: rank = exp(uniform * ln V), so rank k has probability ~ 1/k.
    pick = (
        "getvariable('vocab')[1 + least(floor(exp((hash({seed}) % 1000003) / 1000003.0 "
        f"* ln({VOCABULARY + len(COMMON)})))::BIGINT, {VOCABULARY + len(COMMON) - 1})]"
    )
    conn.execute(f"""
        CREATE TEMP TABLE stories AS
        SELECT s,
               1 + s % 5 AS n_rev,
               (6 + hash(s, 'paras') % 5)::INTEGER AS n_para,
               substr(sha256('file:stories/story-' || s || '.txt'), 1, 16) AS article_id,
               'file:stories/story-' || s || '.txt' AS identity,
               TIMESTAMPTZ '2025-07-01 00:00:00+00'
                   + to_days((s * 60 // {stories})::INTEGER)
                   + to_minutes((hash(s, 'minute') % 1200)::BIGINT) AS born
        FROM range({stories}) AS t(s)""")
    # What each later revision changes: one edited paragraph, sometimes a new one, a new title.
    conn.execute("""
        CREATE TEMP TABLE edits AS
        SELECT s, r,
               (hash(s, r, 'edit') % n_para)::INTEGER AS edited,
               hash(s, r, 'append') % 10 < 3 AS appended,
               hash(s, r, 'title') % 5 = 0 AS retitled
        FROM stories, range(2, n_rev + 1) AS t(r)""")
    conn.execute("""
        CREATE TEMP TABLE revision_paragraphs AS
        WITH revs AS (
            SELECT st.s, t.r, st.n_para
                   + (SELECT count(*) FROM edits AS e
                      WHERE e.s = st.s AND e.r <= t.r AND e.appended)::INTEGER AS paragraphs
            FROM stories AS st, range(1, st.n_rev + 1) AS t(r)
        )
        SELECT revs.s, revs.r, p.p,
               (SELECT count(*) FROM edits AS e
                WHERE e.s = revs.s AND e.r <= revs.r AND e.edited = p.p)::INTEGER AS v
        FROM revs, range(revs.paragraphs) AS p(p)""")
    conn.execute(f"""
        CREATE TEMP TABLE paragraphs AS
        SELECT s, p, v,
               array_to_string(list_transform(range((40 + hash(s, p, v, 'len') % 70)::BIGINT),
                               i -> {pick.format(seed="s, p, v, i")}
                                    || CASE WHEN hash(s, p, v, i, '.') % 14 = 0
                                            THEN '.' ELSE '' END),
                               ' ') || '.' AS body
        FROM (SELECT DISTINCT s, p, v FROM revision_paragraphs)""")
    conn.execute(f"""
        CREATE TEMP TABLE titles AS
        SELECT s, r,
               upper(w[1][1]) || w[1][2:] || ' ' || array_to_string(w[2:], ' ') AS title
        FROM (
            SELECT s, r,
                   list_transform(range((6 + hash(s, 'tl') % 7)::BIGINT),
                       i -> {pick.format(seed="s, version, 'title', i")}) AS w
            FROM (
                SELECT st.s, t.r,
                       (SELECT count(*) FROM edits AS e
                        WHERE e.s = st.s AND e.r <= t.r AND e.retitled) AS version
                FROM stories AS st, range(1, st.n_rev + 1) AS t(r)
            )
        )""")
    conn.execute("""
        CREATE TEMP TABLE texts AS
        SELECT rp.s, rp.r, string_agg(pa.body, chr(10) || chr(10) ORDER BY rp.p) AS text
        FROM revision_paragraphs AS rp JOIN paragraphs AS pa USING (s, p, v)
        GROUP BY rp.s, rp.r""")
    outlets = (
        "['CNN', 'BBC News', 'Reuters', 'AP', 'The Guardian', 'Le Monde', 'NPR', 'Al Jazeera']"
    )
    conn.execute("BEGIN TRANSACTION")
    conn.execute("""
        INSERT INTO articles
        SELECT article_id, identity, 'text', 'stories/story-' || s || '.txt', born FROM stories""")
    conn.execute("""
        INSERT INTO article_identities SELECT identity, article_id, born FROM stories""")
    # The columns of migration 001 (later migrations' columns stay NULL, as in rows stored
    # before them).
    conn.execute(f"""
        INSERT INTO revisions (article_id, revision, observed_at, run_id, content_hash,
                               raw_hash, source, title, authors, outlet, published_at,
                               modified_at, language, lede, dateline, section_headings,
                               update_notes, canonical_url, text, word_count, words_added,
                               words_removed, changed_fields, metadata, extractor_version)
        WITH base AS (
            SELECT st.s, st.article_id, t.r, st.born,
                   st.born + to_hours((t.r - 1) * 3) + to_minutes((hash(st.s, t.r) % 120)::BIGINT)
                       AS observed_at,
                   ti.title, tx.text, len(string_split(tx.text, ' ')) AS word_count,
                   e.edited, coalesce(e.appended, false) AS appended,
                   coalesce(e.retitled, false) AS retitled
            FROM stories AS st
            CROSS JOIN range(1, st.n_rev + 1) AS t(r)
            JOIN titles AS ti ON ti.s = st.s AND ti.r = t.r
            JOIN texts AS tx ON tx.s = st.s AND tx.r = t.r
            LEFT JOIN edits AS e ON e.s = st.s AND e.r = t.r
        )
        SELECT article_id, r, observed_at,
               'run-' || strftime(observed_at, '%Y%m%d%H'),
               sha256(title || chr(0) || text),
               sha256(text),
               'stories/story-' || s || '.txt',
               title,
               ['Reporter ' || (hash(s, 'a1') % 500), 'Reporter ' || (hash(s, 'a2') % 500)],
               {outlets}[1 + s % 8],
               born::DATE,
               CASE WHEN r > 1 THEN observed_at::DATE END,
               'en',
               split_part(text, '.', 1),
               {outlets}[1 + s % 8],
               [], CASE WHEN r > 1 THEN ['This story has been updated.'] ELSE [] END,
               NULL,
               text, word_count,
               CASE WHEN r = 1 THEN word_count ELSE (40 + hash(s, r, 'add') % 80)::INTEGER END,
               CASE WHEN r = 1 THEN 0 ELSE (30 + hash(s, r, 'rm') % 60)::INTEGER END,
               CASE WHEN r = 1 THEN []
                    WHEN retitled THEN ['title', 'text', 'modified_at']
                    ELSE ['text', 'modified_at'] END,
               '{{}}'::JSON,
               'text-1'
        FROM base
        ORDER BY observed_at""")
    conn.execute("""
        INSERT INTO observations (run_id, article_id, identity, input, observed_at, outcome,
                                  revision, content_hash, raw_hash, extractor_version)
        SELECT r.run_id, r.article_id, a.identity, r.source, r.observed_at,
               CASE WHEN r.revision = 1 THEN 'new' ELSE 'revised' END,
               r.revision, r.content_hash, r.raw_hash, r.extractor_version
        FROM revisions AS r JOIN articles AS a USING (article_id)
        ORDER BY r.observed_at""")
    conn.execute("""
        INSERT INTO ingest_runs (run_id, flow, started_at, finished_at, status, orchestrator,
                                 new_count, revised_count)
        SELECT run_id, 'ingest_files', min(observed_at), max(observed_at), 'completed', 'local',
               count(*) FILTER (WHERE revision = 1), count(*) FILTER (WHERE revision > 1)
        FROM revisions GROUP BY run_id""")
    conn.execute(story_summary_statement("rebuild_story_summary"))
    conn.execute("COMMIT")
    conn.execute("CHECKPOINT")


def generate_ledger(settings: Settings, stories: int, *, reuse: bool, index: bool) -> bool:
    """The benchmarks' ledger at ``settings.db``: generated (``stories`` stories, 3 revisions
    each on average) unless ``reuse`` and it exists, migrated, and with its full-text index
    built when ``index``. Returns whether it was generated now."""
    db = settings.db
    generated = not (reuse and db.exists())
    if generated:
        for path in (db, db.with_name(db.name + ".wal")):
            path.unlink(missing_ok=True)
        begin = time.perf_counter()
        ensure_ledger(settings)
        with duckdb.connect(str(db)) as conn:
            generate(conn, stories)
        print(f"generated in {time.perf_counter() - begin:.1f} s")
    ensure_ledger(settings)  # a reused ledger of an older schema gains the new migrations
    if index and (generated or search_index_status(settings).behind):
        begin = time.perf_counter()
        refresh_search_index(settings, rebuild=generated)
        print(f"indexed in {time.perf_counter() - begin:.1f} s")
    return generated


def timed(label: str, action: Callable[[], Any], repeat: int = 7) -> Any:
    """Run ``action`` ``repeat`` times; print the median and the best wall time."""
    times = []
    result = None
    for _ in range(repeat):
        begin = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - begin)
    print(
        f"  {label:<62} median {statistics.median(times) * 1000:8.1f} ms"
        f"   best {min(times) * 1000:8.1f} ms"
    )
    return result


def add_revisions(db: Path, count: int) -> None:
    """Append ``count`` new revisions (edits of the latest revision of existing stories), as an
    ingest run would, to measure the incremental index refresh."""
    with duckdb.connect(str(db)) as conn:
        conn.execute(f"""
            INSERT INTO revisions BY NAME
            SELECT * REPLACE (
                revision + 1 AS revision,
                now() AS observed_at,
                'bench-extra' AS run_id,
                text || chr(10) || chr(10) || 'An update added ' || revision || ' words.' AS text)
            FROM (
                SELECT * FROM revisions
                QUALIFY revision = max(revision) OVER (PARTITION BY article_id)
            )
            USING SAMPLE {count} ROWS (reservoir, 11)""")
        conn.execute(story_summary_statement("rebuild_story_summary"))  # what the batch write keeps


def query_words(settings: Settings) -> list[str]:
    """A frequent word, a mid-frequency and a rare generated word, and two-word queries."""
    with open_reader(settings) as conn:
        rows = conn.execute("""
            WITH df AS (
                SELECT t.term, count(*) AS df
                FROM search_postings AS p JOIN search_terms AS t USING (termid)
                WHERE p.termid % 97 = 0
                GROUP BY t.term
            )
            SELECT
                (SELECT arg_min(term, abs(df - 20000)) FROM df WHERE length(term) > 4),
                (SELECT arg_min(term, abs(df - 1000)) FROM df WHERE length(term) > 4),
                (SELECT arg_min(term, abs(df - 30)) FROM df WHERE length(term) > 4)
        """).fetchone() or ("", "", "")
    frequent, middle, rare = rows
    return [rare, middle, frequent, f"{middle} {rare}", "president statement"]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Write the ledger here and keep it")
    parser.add_argument("--reuse", action="store_true", help="Reuse the --keep ledger if there")
    parser.add_argument(
        "--compare-fts",
        action="store_true",
        help="Also time DuckDB's own PRAGMA create_fts_index + match_bm25 (on a copy; slow)",
    )
    args = parser.parse_args()

    if args.keep:
        run(args, args.keep)
        return
    workdir = Path(tempfile.mkdtemp(prefix="newsledger-bench-"))
    try:
        run(args, workdir / "ledger.duckdb")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, db: Path) -> None:
    """Generate (or reuse) the ledger at ``db``, build the index, print every figure."""
    settings = Settings(db=db, lock_timeout_seconds=30)
    print(
        f"ledger {db} · {os.cpu_count()} cores · duckdb {duckdb.__version__} · "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    generate_ledger(settings, args.stories, reuse=args.reuse, index=False)

    with duckdb.connect(str(db), read_only=True) as conn:
        revisions, stories, words = conn.execute(
            "SELECT count(*), count(DISTINCT article_id), avg(word_count) FROM revisions"
        ).fetchone() or (0, 0, 0.0)
    size = db.stat().st_size
    if args.reuse:
        print(
            "(a reused ledger: its file keeps the space of the index it had, so the sizes "
            "below are not those of a fresh build)"
        )
    print(f"{stories:,} stories, {revisions:,} revisions, {words:.0f} words per revision")
    print(
        f"database size without the search index: {size / 1e6:,.0f} MB = "
        f"{size / revisions:,.0f} bytes per revision"
    )

    print("full-text index")
    report = refresh_search_index(settings, rebuild=True)
    print(
        f"  full build of {report.indexed:,} revisions: {report.seconds:.1f} s "
        f"({report.chunks} chunks of {settings.search_chunk_revisions:,}, {report.merges} merges)"
    )
    begin = time.perf_counter()
    report = refresh_search_index(settings)
    print(f"  refresh with nothing new: {(time.perf_counter() - begin) * 1000:.0f} ms")
    add_revisions(db, 100)
    report = refresh_search_index(settings)
    print(
        f"  refresh after an ingest of 100 new revisions: {report.seconds * 1000:.0f} ms "
        f"({report.merges} merges)"
    )
    with duckdb.connect(str(db)) as conn:
        conn.execute("CHECKPOINT")
        runs, postings = conn.execute(
            "SELECT count(*), sum(postings) FROM search_runs"
        ).fetchone() or (0, 0)
    total = db.stat().st_size
    revisions += 100
    print(f"  {postings:,} postings in {runs} runs")
    print(
        f"database size with the search index: {total / 1e6:,.0f} MB = "
        f"{total / revisions:,.0f} bytes per revision "
        f"(index {(total - size) / revisions:,.0f} bytes per revision)"
    )

    print("queries (read-only connection, as `newsledger sql` opens it)")
    with open_reader(settings) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT article_id FROM articles USING SAMPLE 50 ROWS (reservoir, 7)"
            ).fetchall()
        ]
        first = conn.execute("SELECT min(observed_at) FROM revisions").fetchone()
        assert first is not None
        day = (first[0] + timedelta(days=30)).date()
        probe = iter(ids * 20)

        def rows_of(statement: str, *params: Any) -> list[Any]:
            return conn.execute(statement, list(params)).fetchall()

        timed(
            "latest_revisions: count(*)", lambda: rows_of("SELECT count(*) FROM latest_revisions")
        )
        timed(
            "latest_revisions: full scan of every column (aggregated)",
            lambda: rows_of(
                "SELECT count(*), sum(length(text)), count(title), count(authors), "
                "max(observed_at), count(identity), sum(word_count), count(metadata) "
                "FROM latest_revisions"
            ),
        )
        timed(
            "latest_revisions: one story",
            lambda: rows_of("SELECT * FROM latest_revisions WHERE article_id = ?", next(probe)),
            repeat=20,
        )
        timed(
            "history: article_revisions query (newsledger history)",
            lambda: rows_of(sql("article_revisions").replace("$article_id", "?"), next(probe)),
            repeat=20,
        )
        timed(
            "history: article_history WHERE article_id = ?",
            lambda: rows_of("SELECT * FROM article_history WHERE article_id = ?", next(probe)),
            repeat=20,
        )
        timed(
            "history: revision_changes WHERE article_id = ?",
            lambda: rows_of("SELECT * FROM revision_changes WHERE article_id = ?", next(probe)),
            repeat=20,
        )
        timed(
            "history: every revision's full row (text included)",
            lambda: rows_of("SELECT * FROM revisions WHERE article_id = ?", next(probe)),
            repeat=20,
        )
        timed(
            f"as_of('{day} 14:00'): count(*)",
            lambda: rows_of("SELECT count(*) FROM as_of(?::TIMESTAMPTZ)", f"{day} 14:00:00+00"),
        )
        timed(
            f"as_of('{day} 14:00'): every column (aggregated)",
            lambda: rows_of(
                "SELECT count(*), sum(length(text)), max(observed_at) FROM as_of(?::TIMESTAMPTZ)",
                f"{day} 14:00:00+00",
            ),
        )
        timed(
            f"as_of('{day} 14:00'): one story",
            lambda: rows_of(
                "SELECT * FROM as_of(?::TIMESTAMPTZ) WHERE article_id = ?",
                f"{day} 14:00:00+00",
                next(probe),
            ),
            repeat=20,
        )
        timed("headline_changes: all", lambda: rows_of("SELECT * FROM headline_changes"))
        timed(
            "revision_changes: edits with a changed title, count",
            lambda: rows_of("SELECT count(*) FROM revision_changes WHERE title_changed"),
        )

    print("search (newsledger search: BM25, top 10, with snippets)")
    for words_ in query_words(settings):
        hits = timed(f"{words_!r} per story", lambda q=words_: search(settings, q, limit=10))
        older = sum(1 for hit in hits.hits if not hit.in_latest)
        hits = timed(
            f"{words_!r} --all-revisions",
            lambda q=words_: search(settings, q, all_revisions=True, limit=10),
        )
        print(f"    {len(hits.hits)} hits, {older} only in older revisions (per story)")

    if args.compare_fts:
        compare_fts(db, query_words(settings))


def compare_fts(db: Path, queries: list[str]) -> None:
    """The fts extension's own index on a copy of the ledger: full build time, size, queries."""
    from newsledger.tasks.search import load_fts

    copy = db.with_name(db.stem + "-fts.duckdb")
    shutil.copyfile(db, copy)
    print("DuckDB's own fts index (PRAGMA create_fts_index), for comparison")
    with duckdb.connect(str(copy)) as conn:
        load_fts(conn)
        before = copy.stat().st_size
        begin = time.perf_counter()
        conn.execute(
            "CREATE TABLE fts_docs AS SELECT d.doc_id, r.title, r.text "
            "FROM revisions AS r JOIN search_docs AS d USING (article_id, revision)"
        )
        conn.execute("PRAGMA create_fts_index('fts_docs', 'doc_id', 'title', 'text')")
        conn.execute("CHECKPOINT")
        print(
            f"  full build: {time.perf_counter() - begin:.1f} s, "
            f"{(copy.stat().st_size - before) / 1e6:,.0f} MB more"
        )
        for words_ in queries:
            timed(
                f"match_bm25 {words_!r} top 10 (no snippets)",
                lambda q=words_: conn.execute(
                    "SELECT doc_id, score FROM (SELECT doc_id, "
                    "fts_main_fts_docs.match_bm25(doc_id, ?) AS score FROM fts_docs) "
                    "WHERE score IS NOT NULL ORDER BY score DESC LIMIT 10",
                    [q],
                ).fetchall(),
                repeat=3,
            )
    copy.unlink()


if __name__ == "__main__":
    main()
