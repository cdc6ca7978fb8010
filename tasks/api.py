"""The Python API for notebooks and scripts (``newsledger.open(path)``): the ledger through
short-lived read-only connections, so a notebook never holds DuckDB's file lock and ingests
keep running.

Every method opens the ledger read-only, runs one fixed statement (``tasks/sql``) or the
user's SQL on the locked-down reader, copies the result into a private in-memory DuckDB
database and closes the file again. Results are DuckDB relations on that copy (``.df()``,
``.pl()``, ``.fetchall()`` work on them), or pandas / polars DataFrames with
``open(path, frames="pandas" | "polars")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
from newsledger.tasks.ledger import article_revisions, resolve_article, revision_detail
from newsledger.tasks.query import query_error
from newsledger.tasks.search import SearchHit
from newsledger.tasks.search import search as bm25_search
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader, sql
from newsledger.tasks.webview.diffs import StoryDiff, story_diff
from newsledger.tasks.webview.queries import StoryFilter, search_matches

Frames = Literal["relation", "pandas", "polars"]


class _ArrowStream:
    """A relation handed to another connection as an Arrow C stream (no pyarrow needed)."""

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self._relation = relation

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._relation.__arrow_c_stream__(requested_schema)


@dataclass
class Ledger:
    """A newsledger ledger opened for reading. Create it with :func:`open`."""

    path: Path
    frames: Frames = "relation"
    settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path).expanduser()
        self.settings = Settings(db=self.path)

    # --- plumbing --------------------------------------------------------------------------

    def _copy(self, relation: duckdb.DuckDBPyRelation | None) -> Any:
        """The relation's rows in a private in-memory database (the ledger file is closed
        right after), returned as the configured kind of frame."""
        memory = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        memory.execute("SET TimeZone = 'UTC'")
        if relation is None:
            memory.execute("CREATE TABLE result (ok BOOLEAN)")
        else:
            memory.register("source", _ArrowStream(relation))
            memory.execute("CREATE TABLE result AS SELECT * FROM source")
            memory.unregister("source")
        return self._frame(memory.table("result"))

    def _frame(self, relation: duckdb.DuckDBPyRelation) -> Any:
        if self.frames == "pandas":
            return relation.df()
        if self.frames == "polars":
            return relation.pl()
        return relation

    def _statement(self, name: str, params: dict[str, Any]) -> Any:
        with open_reader(self.settings) as conn:
            return self._copy(conn.sql(sql(name), params=params))

    # --- the API ---------------------------------------------------------------------------

    def stories(
        self,
        *,
        outlet: str | None = None,
        language: str | None = None,
        changed_within_hours: float | None = None,
        headline_changed: bool = False,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Any:
        """Stories, newest change first (one row each: latest title, byline, outlet, language,
        revision count, headline changes, last change and its size), filtered like the web
        view's story list; ``search`` keeps the stories a BM25 search finds."""
        filters = StoryFilter(
            outlet=outlet,
            language=language,
            hours=changed_within_hours,
            headline_changed=headline_changed,
            per_page=max(limit, 1),
        )
        ids = sorted(search_matches(self.settings, search)) if search else None
        params = filters.params(ids)
        params["limit"], params["offset"] = max(limit, 1), max(offset, 0)
        if ids == []:
            params["ids"] = "\n"  # matches no article id
        return self._statement("webview_stories", params)

    def history(self, article: str) -> Any:
        """Every revision of a story (an id, a 6+ character id prefix, a URL or a path),
        oldest first: when seen, content hash, words, words added/removed, changed fields,
        the publication time it stated, why it was made."""
        with open_reader(self.settings) as conn:
            ref = resolve_article(conn, article)
            return self._copy(
                conn.sql(sql("article_revisions"), params={"article_id": ref.article_id})
            )

    def feed_entries(self, article: str | None = None) -> Any:
        """What the feeds said of a story (an id, id prefix, URL or path; all stories when
        omitted): one row per version of each feed's entry (``feed_entry_metadata``: feed,
        title, published/updated, authors, summary, when first read, the observation of the
        page it led to), oldest first."""
        with open_reader(self.settings) as conn:
            article_id = resolve_article(conn, article).article_id if article else None
            return self._copy(
                conn.sql(sql("feed_entry_metadata"), params={"article_id": article_id})
            )

    def diff(self, article: str, a: int | None = None, b: int | None = None) -> StoryDiff:
        """The word-level diff of a story from revision ``a`` to ``b`` (default: its last
        change): ``.fields`` (title, byline, stated times), ``.inline`` and
        ``.side_by_side`` pieces, ``.as_dict()``, and ``str()`` as ``[-old-]{+new+}`` text."""
        with open_reader(self.settings) as conn:
            ref = resolve_article(conn, article)
            latest = len(article_revisions(conn, ref.article_id))
            to_n = b or latest
            from_n = a or max(1, to_n - 1)
            old = revision_detail(conn, ref.article_id, from_n)
            new = revision_detail(conn, ref.article_id, to_n)
            cursor = conn.execute(sql("webview_revision_notes"), {"article_id": ref.article_id})
            names = [d[0] for d in cursor.description or []]
            notes: list[str] = next(
                (
                    record["update_notes"]
                    for record in (dict(zip(names, row, strict=True)) for row in cursor.fetchall())
                    if record["revision"] == to_n
                ),
                [],
            )

        def fields(detail: Any) -> dict[str, Any]:
            return {
                "revision": detail.revision,
                "observed_at": detail.observed_at.astimezone(UTC),
                "title": detail.title,
                "authors": detail.authors,
                "published": detail.published,
                "modified": detail.modified,
                "text": detail.text,
            }

        return story_diff(fields(old), fields(new), list(notes or []))

    def search(
        self,
        query: str,
        *,
        all_revisions: bool = False,
        since: datetime | None = None,
        limit: int = 10,
    ) -> list[SearchHit]:
        """BM25 full-text search over every revision (as ``newsledger search``): one hit per
        story (its best revision; ``in_latest`` False when only older revisions match)."""
        return bm25_search(
            self.settings, query, all_revisions=all_revisions, since=since, limit=limit
        ).hits

    def as_of(self, ts: datetime | str) -> Any:
        """Every story as it stood at ``ts`` (its newest revision observed by then)."""
        moment = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        with open_reader(self.settings) as conn:
            return self._copy(conn.sql("SELECT * FROM as_of($ts)", params={"ts": moment}))

    def sql(self, query: str, **params: Any) -> Any:
        """A read-only SQL query (``$name`` parameters from keyword arguments) on the
        locked-down reader of ``newsledger sql``: no writes, no other files, time and memory
        capped (NEWSLEDGER_QUERY_TIMEOUT_SECONDS, NEWSLEDGER_QUERY_MEMORY_LIMIT)."""
        with open_reader(
            self.settings,
            query_timeout=self.settings.query_timeout_seconds,
            memory_limit=self.settings.query_memory_limit,
        ) as conn:
            try:
                relation = conn.sql(query, params=params or None)
                return self._copy(relation)
            except (duckdb.Error, MemoryError) as error:
                raise query_error(error, self.settings) from None


def open(path: str | Path = "data/newsledger.duckdb", *, frames: Frames = "relation") -> Ledger:
    """Open a ledger for reading (nothing is held open between calls)."""
    ledger = Ledger(Path(path), frames)
    if not ledger.path.exists():
        raise FileNotFoundError(f"no ledger at {ledger.path}")
    return ledger


__all__ = ["Frames", "Ledger", "open"]
