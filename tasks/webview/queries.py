"""What the web view shows, read from the ledger: plain functions, each opening its own
short-lived read-only connection (never held between requests, so ingests keep writing while
people browse). Every statement is a ``tasks/sql/*.sql`` file or an existing read function
(:mod:`tasks.ledger`, :mod:`tasks.search`, :mod:`tasks.query`); request values only ever
reach DuckDB as bound parameters.

Results are plain dicts of JSON-friendly values (times as aware UTC datetimes), the same data
for the HTML pages and their ``/api/`` twins.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from newsledger.tasks.errors import ArticleNotFoundError
from newsledger.tasks.ledger import article_revisions, resolve_article
from newsledger.tasks.query import ledger_stats
from newsledger.tasks.search import hits, rank
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader, sql
from newsledger.tasks.webview.diffs import StoryDiff, story_diff

MAX_PER_PAGE = 200
SEARCH_STORIES = 500  # stories a text search may contribute to the story list


@contextmanager
def reader(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """One locked-down read-only connection for one request's reads (times in UTC)."""
    with open_reader(
        settings,
        query_timeout=settings.query_timeout_seconds,
        memory_limit=settings.query_memory_limit,
    ) as conn:
        yield conn


def utc(value: Any) -> Any:
    """Aware datetimes in UTC (DuckDB hands TIMESTAMPTZ over in its session zone)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return [
        {name: utc(value) for name, value in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


@dataclass(frozen=True)
class StoryFilter:
    """The story list's filters (all optional) and its page."""

    outlet: str | None = None
    language: str | None = None
    hours: float | None = None  # changed in the last N hours
    headline_changed: bool = False
    q: str | None = None  # BM25 text search (tasks/search.py)
    page: int = 1
    per_page: int = 50

    def params(self, ids: list[str] | None, now: datetime | None = None) -> dict[str, Any]:
        """The bound parameters of ``webview_stories.sql``."""
        now = now or datetime.now(UTC)
        per_page = max(1, min(self.per_page, MAX_PER_PAGE))
        return {
            "outlet": self.outlet or None,
            "language": self.language or None,
            "since": now - timedelta(hours=self.hours) if self.hours else None,
            "headline_changed": bool(self.headline_changed),
            "ids": "\n".join(ids) if ids is not None else "",
            "limit": per_page,
            "offset": (max(self.page, 1) - 1) * per_page,
        }


def search_matches(settings: Settings, q: str) -> list[str]:
    """The ids of the stories a text search finds (BM25, the best SEARCH_STORIES)."""
    with reader(settings) as conn:
        return rank(conn, q, limit=SEARCH_STORIES).article_ids


def _story_page(
    conn: duckdb.DuckDBPyConnection, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stories = records(conn.execute(sql("webview_stories"), params))
    facets = records(conn.execute(sql("webview_story_facets")))
    return stories, facets


def list_stories(settings: Settings, filters: StoryFilter) -> dict[str, Any]:
    """A page of stories (newest change first) with the filter choices and paging; with a
    text search, the stories it finds, each with its best match's snippet."""
    matches: dict[str, dict[str, Any]] = {}
    q = (filters.q or "").strip()
    if q:
        with reader(settings) as conn:
            ranking = rank(conn, q, limit=SEARCH_STORIES)
            params = filters.params(sorted(ranking.article_ids))
            if ranking.rows:
                stories, facets = _story_page(conn, params)
            else:
                stories, facets = [], records(conn.execute(sql("webview_story_facets")))
            # Snippets only for the stories on this page.
            shown = [story["article_id"] for story in stories]
            for hit in hits(conn, ranking, shown):
                matches[hit.article_id] = {**hit.as_dict(), "highlights": list(hit.highlights)}
    else:
        params = filters.params(None)
        with reader(settings) as conn:
            stories, facets = _story_page(conn, params)
    total = int(stories[0]["total"]) if stories else 0
    for story in stories:
        story.pop("total")
        hit = matches.get(story["article_id"])
        story["search"] = (
            {
                key: hit[key]
                for key in ("snippet", "highlights", "score", "revision", "in_latest", "note")
            }
            if hit
            else None
        )
    per_page = params["limit"]
    return {
        "filters": {
            "outlet": filters.outlet,
            "language": filters.language,
            "hours": filters.hours,
            "headline_changed": filters.headline_changed,
            "q": filters.q,
        },
        "page": max(filters.page, 1),
        "per_page": per_page,
        "total": total,
        "pages": max(1, -(-total // per_page)),
        "stories": stories,
        "outlets": [f["value"] for f in facets if f["facet"] == "outlet"],
        "languages": [f["value"] for f in facets if f["facet"] == "language"],
    }


LATEST_FIELDS = (  # the story's latest metadata (as stored_stories.sql gives it)
    "revision",
    "title",
    "authors",
    "outlet",
    "published",
    "modified",
    "dateline",
    "language",
    "word_count",
    "section_headings",
    "update_notes",
    "lede",
)


def _detail(row: dict[str, Any]) -> dict[str, Any]:
    """What a diff compares of a revision (webview_story_revisions.sql's row)."""
    return {
        "revision": row["revision"],
        "observed_at": row["observed_at"],
        "content_hash": row["content_hash"],
        "title": row["title"],
        "authors": list(row["authors"] or []),
        "published": row["published"],
        "modified": row["modified"],
        "text": row["text"],
    }


def story(
    settings: Settings,
    reference: str,
    from_revision: int | None = None,
    to_revision: int | None = None,
) -> dict[str, Any]:
    """A story: its latest metadata, the timeline of every revision (with byline, update
    notes and change sizes), and the diff between two revisions (default: the last change;
    for a single-revision story, revision 1 against itself)."""
    with reader(settings) as conn:
        ref = resolve_article(conn, reference)
        timeline = [
            {key: utc(value) for key, value in row.items()}
            for row in article_revisions(conn, ref.article_id)
        ]
        extras = {
            row["revision"]: row
            for row in records(
                conn.execute(sql("webview_story_revisions"), {"article_id": ref.article_id})
            )
        }
    last = timeline[-1]["revision"]
    to_n = to_revision or last
    from_n = from_revision or max(1, to_n - 1)
    for wanted in (from_n, to_n):
        if wanted not in extras:
            raise ArticleNotFoundError(f"article {ref.article_id} has no revision {wanted}")
    latest = {"article_id": ref.article_id, "identity": ref.identity} | {
        key: extras[last][key] for key in LATEST_FIELDS
    }
    for entry in timeline:
        extra = extras.get(entry["revision"], {})
        entry["authors"] = extra.get("authors") or []
        entry["update_notes"] = extra.get("update_notes") or []
        entry["blocks"] = {
            key: extra.get(f"blocks_{key}") for key in ("added", "removed", "changed")
        }
    notes = extras[to_n].get("update_notes") or []
    diff = story_diff(_detail(extras[from_n]), _detail(extras[to_n]), list(notes))
    return {
        "article_id": ref.article_id,
        "identity": ref.identity,
        "story": latest,
        "first_seen_at": timeline[0]["observed_at"],
        "revisions": timeline,
        "diff": diff,
    }


def headline_changes(
    settings: Settings, outlet: str | None = None, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    with reader(settings) as conn:
        rows = records(
            conn.execute(
                sql("webview_headlines"),
                {"outlet": outlet or None, "limit": per_page, "offset": (page - 1) * per_page},
            )
        )
    total = int(rows[0]["total"]) if rows else 0
    for row in rows:
        row.pop("total")
    return {
        "outlet": outlet,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": max(1, -(-total // per_page)),
        "headline_changes": rows,
    }


def failures(settings: Settings, limit: int = 200) -> dict[str, Any]:
    with reader(settings) as conn:
        rows = records(conn.execute(sql("failures_report"), {"limit": limit}))
    return {"limit": limit, "failures": rows}


def stats(settings: Settings, days: int = 30, top: int = 10) -> dict[str, Any]:
    """The ledger's statistics (tasks/query.ledger_stats) and the series its charts draw:
    revisions per day, and per outlet, over the last ``days`` days with revisions."""
    result = ledger_stats(settings, days=days, top=top)

    def table(data: Any) -> list[dict[str, Any]]:
        return [
            {name: utc(value) for name, value in zip(data.names, row, strict=True)}
            for row in data.rows
        ]

    per_outlet_day = table(result.per_outlet_day)
    per_day: dict[str, dict[str, int]] = {}
    per_outlet: dict[str, dict[str, int]] = {}
    for row in per_outlet_day:
        day = str(row["day"])
        for bucket, key in ((per_day, day), (per_outlet, row["outlet"])):
            counts = bucket.setdefault(key, {"new_stories": 0, "edits": 0})
            counts["new_stories"] += int(row["new_stories"] or 0)
            counts["edits"] += int(row["edits"] or 0)
    return {
        "days": days,
        "totals": table(result.totals)[0],
        "per_outlet_day": per_outlet_day,
        "revisions_per_day": [{"day": day, **per_day[day]} for day in sorted(per_day)],
        "revisions_per_outlet": sorted(
            ({"outlet": key, **value} for key, value in per_outlet.items()),
            key=lambda item: -(item["new_stories"] + item["edits"]),
        ),
        "revisions_per_story": table(result.revisions_per_story),
        "most_edited": table(result.most_edited),
    }


@dataclass(frozen=True)
class FeedEntry:
    article_id: str
    identity: str
    revision: int
    observed_at: datetime
    title: str | None
    authors: list[str]
    outlet: str | None
    update_notes: list[str]
    changed_fields: list[str]
    words_added: int
    words_removed: int
    diff: StoryDiff


def _feed_keys(
    conn: duckdb.DuckDBPyConnection, *, outlet: str | None, ids: list[str] | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` revisions (article_id, revision) of the stories ``ids``, or of
    every story (of ``outlet``)."""
    params = {"outlet": outlet, "limit": limit}
    if ids is not None:
        return records(conn.execute(sql("webview_feed_keys_of"), {**params, "ids": ids}))
    bound = conn.execute(sql("webview_feed_bound"), params).fetchone()
    since = bound[0] if bound else None
    if since is not None:
        keys = records(conn.execute(sql("webview_feed_keys"), {**params, "since": since}))
        if len(keys) >= limit:  # every revision older than the bound ranks after these
            return keys
    return records(conn.execute(sql("webview_feed_keys"), {**params, "since": None}))


def feed_entries(
    settings: Settings,
    *,
    outlet: str | None = None,
    article_id: str | None = None,
    q: str | None = None,
    limit: int = 50,
) -> list[FeedEntry]:
    """The newest ``limit`` revisions (of an outlet, a story, or the stories a search finds),
    each with its diff against the revision before it."""
    ids: list[str] | None = None
    if q is not None:
        ids = search_matches(settings, q)
        if not ids:
            return []
    with reader(settings) as conn:
        if article_id is not None:
            story_id = resolve_article(conn, article_id).article_id
            ids = [story_id] if ids is None or story_id in ids else []
        keys = _feed_keys(conn, outlet=outlet, ids=ids, limit=limit)
        wanted = sorted({key["article_id"] for key in keys})
        found = records(conn.execute(sql("webview_feed"), {"ids": wanted})) if wanted else []
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    before: dict[tuple[str, int], dict[str, Any] | None] = {}
    previous: dict[str, Any] | None = None
    for row in found:  # ordered by story, then revision: pair each with the one before
        if previous is not None and previous["article_id"] != row["article_id"]:
            previous = None
        by_key[row["article_id"], row["revision"]] = row
        before[row["article_id"], row["revision"]] = previous
        previous = row
    entries = []
    for key in keys:
        row = by_key[key["article_id"], key["revision"]]
        prior = before[key["article_id"], key["revision"]] or {}
        old = {
            "revision": prior.get("revision") or 0,
            "title": prior.get("title"),
            "authors": list(prior.get("authors") or []),
            "text": prior.get("text") or "",
            "observed_at": None,
            "published": None,
            "modified": None,
        }
        new = {
            "revision": row["revision"],
            "title": row["title"],
            "authors": list(row["authors"] or []),
            "text": row["text"] or "",
            "observed_at": row["observed_at"],
            "published": None,
            "modified": None,
        }
        entries.append(
            FeedEntry(
                article_id=row["article_id"],
                identity=row["identity"],
                revision=row["revision"],
                observed_at=row["observed_at"],
                title=row["title"],
                authors=list(row["authors"] or []),
                outlet=row["outlet"],
                update_notes=list(row["update_notes"] or []),
                changed_fields=list(row["changed_fields"] or []),
                words_added=int(row["words_added"] or 0),
                words_removed=int(row["words_removed"] or 0),
                diff=story_diff(old, new, list(row["update_notes"] or []), side=False),
            )
        )
    return entries


__all__ = [
    "FeedEntry",
    "StoryFilter",
    "failures",
    "feed_entries",
    "headline_changes",
    "list_stories",
    "reader",
    "search_matches",
    "stats",
    "story",
]
