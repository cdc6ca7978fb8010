"""Typed values that travel between pipeline stages (load → clean → metadata → store)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

SourceKind = Literal["text", "html", "url"]
Outcome = Literal["new", "revised", "unchanged", "failed", "skipped"]


def article_id_for(identity: str) -> str:
    """Stable article id: the first 16 hex digits of SHA-256 of the story's identity.

    Deterministic, so re-runs, concurrent writers and rebuilt ledgers agree on ids."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SourceDocument:
    """Raw input: the bytes of one local file (or fetched page) and where it came from."""

    identity: str  # "file:<relative path>" or a normalised URL
    source: str  # what the user gave us: a path or a URL
    kind: SourceKind
    raw: bytes
    raw_hash: str  # sha256 of ``raw``
    fetched_at: datetime | None = None
    url: str | None = None
    charset: str | None = None  # declared by the HTTP Content-Type header, if any
    file_signature: str | None = None  # a local file's stat before it was read (load.py)

    @property
    def article_id(self) -> str:
        return article_id_for(self.identity)


@dataclass(frozen=True)
class ArticleContent:
    """A cleaned, described article: everything a revision stores."""

    title: str | None
    authors: tuple[str, ...]
    outlet: str | None
    published_at: date | None
    modified_at: date | None
    language: str | None
    text: str
    word_count: int
    lede: str | None
    dateline: str | None
    section_headings: tuple[str, ...]
    update_notes: tuple[str, ...]
    canonical_url: str | None
    content_hash: str
    metadata: dict[str, Any] = field(default_factory=dict)
    # The stated publication / update instant (UTC). When the source states only a day it is
    # that day at midnight UTC and ``*_time_known`` is False; ``published_at``/``modified_at``
    # above stay the day as the source states it (in its own offset).
    published_timestamp: datetime | None = None
    modified_timestamp: datetime | None = None
    published_time_known: bool = False
    modified_time_known: bool = False
    # The text the page shows (trafilatura's) when ``text`` is its JSON-LD articleBody; it is
    # compared too (an edit of the shown page makes a revision), else None.
    visible_text: str | None = None


@dataclass(frozen=True)
class ExtractedArticle:
    """A source that went through clean + metadata, ready to be stored."""

    document: SourceDocument
    content: ArticleContent
    extractor_version: str


@dataclass(frozen=True)
class KnownUnchanged:
    """A source whose raw bytes and extractor version match the article's last observation:
    extraction was skipped. ``expected_content_hash`` is the latest revision's hash then."""

    document: SourceDocument
    expected_content_hash: str
    extractor_version: str


@dataclass(frozen=True)
class LastObservation:
    """How a source looked when last seen successfully: its raw bytes' hash, the extractor
    that read them, and the content hash it gave (to skip re-extracting unchanged bytes)."""

    raw_hash: str | None
    extractor_version: str | None
    content_hash: str | None
    identity: str | None = None
    file_signature: str | None = None  # a local file's stat signature then (load.py)


@dataclass(frozen=True)
class FailedInput:
    """An input that could not become an article, with the stage and a reason for people."""

    input: str
    stage: str
    error: str
    message: str
    identity: str | None = None
    raw_hash: str | None = None


PreparedItem = ExtractedArticle | KnownUnchanged | FailedInput


@dataclass(frozen=True)
class StoredOutcome:
    """What the store did with one input (used for summaries and events)."""

    outcome: Outcome
    input: str
    article_id: str | None
    revision: int | None = None
    title: str | None = None
    url: str | None = None
    words_added: int = 0
    words_removed: int = 0
    message: str | None = None
    stage: str | None = None
    error: str | None = None
    # What a notification says about a new or revised story (tasks/notify.py)
    outlet: str | None = None
    previous_title: str | None = None  # the title before a revision that changed it
    first_change: str | None = None  # the first changed sentence of the text
    first_change_kind: str | None = None  # "added", "changed" or "removed"
    observed_at: str | None = None  # when the revision was stored (ISO 8601, UTC)


@dataclass
class RunSummary:
    """Counts of one ingest run, plus the failures with their reasons."""

    run_id: str
    flow: str
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[FailedInput] = field(default_factory=list)
    outcomes: list[StoredOutcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.new + self.revised + self.unchanged + self.failed

    def add(self, outcomes: list[StoredOutcome]) -> None:
        for item in outcomes:
            if item.outcome == "new":
                self.new += 1
            elif item.outcome == "revised":
                self.revised += 1
            elif item.outcome == "unchanged":
                self.unchanged += 1
            elif item.outcome == "skipped":  # e.g. refused again by an unchanged policy
                self.skipped += 1
            else:
                self.failed += 1
                self.failures.append(
                    FailedInput(
                        item.input, item.stage or "store", item.error or "error", item.message or ""
                    )
                )
        self.outcomes.extend(o for o in outcomes if o.outcome in ("new", "revised"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "flow": self.flow,
            "new": self.new,
            "revised": self.revised,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "skipped": self.skipped,
            "failures": [f.__dict__ for f in self.failures],
            "stored": [
                {
                    "article_id": o.article_id,
                    "revision": o.revision,
                    "outcome": o.outcome,
                    "title": o.title,
                    "url": o.url,
                }
                for o in self.outcomes
            ],
        }
