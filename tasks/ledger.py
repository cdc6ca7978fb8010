"""Read side of the ledger for the CLI: find an article from what a person types, list its
revisions, fetch a revision for a diff. Plain functions over a read-only connection."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
from newsledger.tasks.errors import ArticleNotFoundError
from newsledger.tasks.query import Table
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader, sql


@dataclass(frozen=True)
class ArticleRef:
    article_id: str
    identity: str


@dataclass(frozen=True)
class RevisionDetail:
    revision: int
    observed_at: datetime
    content_hash: str
    title: str | None
    authors: list[str]
    published: str | None  # stated_time_label: "2025-09-02 12:30 UTC", or the day only
    modified: str | None
    text: str


def _path_forms(reference: str) -> tuple[list[str], list[str]]:
    path = Path(reference).expanduser()
    forms = {reference, str(path)}
    if path.exists():
        forms.add(str(path.resolve()))
        forms.add(os.path.relpath(path.resolve()))
    parts = PurePosixPath(path.as_posix()).parts
    relative = {"/".join(parts[i:]) for i in range(len(parts)) if parts[i] not in ("/", "..", ".")}
    return sorted(forms), sorted(relative)


def resolve_article(conn: duckdb.DuckDBPyConnection, reference: str) -> ArticleRef:
    """An article from its id (or a 6+ character prefix), identity, URL or file path."""
    # An exact id (what the web view's links carry) is a primary-key lookup; the general
    # statement below scans every revision's source path. Both give the same article: among
    # several matches the exact id wins.
    by_id = conn.execute(sql("article_by_id"), {"article_id": reference}).fetchone()
    if by_id is not None:
        return ArticleRef(by_id[0], by_id[1])
    url: str | None = None
    if "://" in reference:
        from newsledger.tasks.urls import normalize_url

        url = normalize_url(reference)
    path_forms, relative_forms = _path_forms(reference)
    rows = conn.execute(
        sql("resolve_article"),
        {"ref": reference, "url": url, "path_forms": path_forms, "relative_forms": relative_forms},
    ).fetchall()
    if not rows:
        raise ArticleNotFoundError(
            f"no article matches {reference!r} (try an id from "
            '`newsledger sql "select article_id, identity from articles"`)'
        )
    if len(rows) > 1:
        # A longer relative path match is more specific than a bare file name.
        exact = [r for r in rows if r[1] in (reference, url) or r[0] == reference]
        if len(exact) == 1:
            rows = exact
        else:
            listing = ", ".join(f"{r[0]} ({r[1]})" for r in rows[:10])
            raise ArticleNotFoundError(f"{reference!r} matches several articles: {listing}")
    return ArticleRef(rows[0][0], rows[0][1])


def article_revisions(conn: duckdb.DuckDBPyConnection, article_id: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql("article_revisions"), {"article_id": article_id})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def revision_detail(
    conn: duckdb.DuckDBPyConnection, article_id: str, revision: int
) -> RevisionDetail:
    row = conn.execute(
        sql("revision_detail"), {"article_id": article_id, "revision": revision}
    ).fetchone()
    if row is None:
        raise ArticleNotFoundError(f"article {article_id} has no revision {revision}")
    return RevisionDetail(
        row[0], row[1], row[2], row[3], list(row[4] or []), row[5], row[6], row[7]
    )


# --- what the CLI shows (each one short read-only connection) ------------------------------------


@dataclass(frozen=True)
class StoredStory:
    """A story as ``newsledger ingest --show`` prints it (``stored_stories.sql``)."""

    article_id: str
    revision: int
    identity: str
    title: str | None
    authors: list[str]
    outlet: str | None
    published: str | None
    modified: str | None
    dateline: str | None
    language: str | None
    word_count: int | None
    section_headings: list[str]
    update_notes: list[str]
    lede: str | None


@dataclass(frozen=True)
class StoryRevisions:
    """Two revisions of a story (``newsledger diff``)."""

    ref: ArticleRef
    old: RevisionDetail
    new: RevisionDetail


def stored_stories(settings: Settings, article_ids: Sequence[str]) -> list[StoredStory]:
    """The latest revision of each of ``article_ids``, by identity."""
    with open_reader(settings, locked_down=False) as conn:
        cursor = conn.execute(sql("stored_stories"), {"ids": list(article_ids)})
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return [StoredStory(**dict(zip(names, row, strict=True))) for row in rows]


def failure_report(settings: Settings, limit: int) -> Table:
    """What failed, why and how often: one row per input, newest first (``failures_report``)."""
    with open_reader(settings, locked_down=False) as conn:
        cursor = conn.execute(sql("failures_report"), {"limit": limit})
        names = [d[0] for d in cursor.description or []]
        return Table(names, cursor.fetchall())


def find_article(settings: Settings, reference: str) -> ArticleRef:
    """:func:`resolve_article` on a connection of its own."""
    with open_reader(settings, locked_down=False) as conn:
        return resolve_article(conn, reference)


def story_history(settings: Settings, reference: str) -> tuple[ArticleRef, list[dict[str, Any]]]:
    """The story ``reference`` names and every one of its revisions, oldest first."""
    with open_reader(settings, locked_down=False) as conn:
        ref = resolve_article(conn, reference)
        return ref, article_revisions(conn, ref.article_id)


def story_revisions(
    settings: Settings, reference: str, from_revision: int | None, to_revision: int | None
) -> StoryRevisions:
    """Two revisions of a story: ``to_revision`` (default: the latest) and ``from_revision``
    (default: the one before it)."""
    with open_reader(settings, locked_down=False) as conn:
        ref = resolve_article(conn, reference)
        latest = len(article_revisions(conn, ref.article_id))
        to_n = to_revision or latest
        from_n = from_revision or max(1, to_n - 1)
        return StoryRevisions(
            ref,
            revision_detail(conn, ref.article_id, from_n),
            revision_detail(conn, ref.article_id, to_n),
        )
