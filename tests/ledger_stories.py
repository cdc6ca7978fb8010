"""Helpers for the query tests: small real ledgers built through the ingest pipeline from text
files in the seed format (a header block with title/authors/outlet/dates, then paragraphs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings


def write_story(
    folder: Path,
    name: str,
    *,
    title: str,
    paragraphs: list[str],
    authors: str = "Ann Lee",
    outlet: str = "CNN",
    published: str = "2025-09-01",
    modified: str | None = None,
) -> Path:
    header = [
        f"title: {title}",
        f"authors: {authors}",
        f"outlet: {outlet}",
        f"published: {published}",
    ]
    if modified:
        header.append(f"modified: {modified}")
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


def ingest(settings: Settings, folder: Path) -> None:
    summary = ingest_paths([str(folder)], settings)
    assert summary.failed == 0, summary.failures


def query(settings: Settings, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Rows of a statement on a plain read-only connection (nothing of ours loaded)."""
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        return conn.execute(statement, params).fetchall()


ALPHA_1 = [
    "The envoy praised the mediators in Doha as talks on a ceasefire resumed on Monday.",
    "Negotiators met for six hours and agreed to meet again on Tuesday.",
]
ALPHA_2 = [
    "Talks on a ceasefire broke down on Monday evening after six hours.",
    "Negotiators met for six hours and agreed to meet again on Tuesday.",
]
ALPHA_3 = [*ALPHA_2, "A spokesperson said the delegations would stay in the city."]
BETA_1 = [
    "Flooding closed the main bridge into the old town on Sunday.",
    "Engineers expect the bridge to reopen within a week.",
]


@dataclass
class StoryLedger:
    """Two stories: alpha (3 revisions: headline rewritten and text edited in 2, byline and
    modified date in 3) and beta (1 revision, first seen with alpha's revision 2)."""

    settings: Settings
    folder: Path
    alpha: str  # article ids
    beta: str
    times: dict[tuple[str, int], datetime]  # (story, revision) -> observed_at


def build_story_ledger(settings: Settings, folder: Path) -> StoryLedger:
    write_story(folder, "alpha.txt", title="Ceasefire talks resume in Doha", paragraphs=ALPHA_1)
    ingest(settings, folder)
    write_story(folder, "alpha.txt", title="Ceasefire talks collapse", paragraphs=ALPHA_2)
    write_story(
        folder,
        "beta.txt",
        title="Floods close the old bridge",
        paragraphs=BETA_1,
        authors="Bo Chen",
        outlet="BBC News",
    )
    ingest(settings, folder)
    write_story(
        folder,
        "alpha.txt",
        title="Ceasefire talks collapse",
        paragraphs=ALPHA_3,
        authors="Ann Lee and Cy Diaz",
        modified="2025-09-02",
    )
    ingest(settings, folder)
    ids = dict(query(settings, "SELECT identity, article_id FROM articles"))
    alpha, beta = ids["file:alpha.txt"], ids["file:beta.txt"]
    name = {alpha: "alpha", beta: "beta"}
    times = {
        (name[a], r): t
        for a, r, t in query(settings, "SELECT article_id, revision, observed_at FROM revisions")
    }
    return StoryLedger(settings, folder, alpha, beta, times)
