"""The revision rule as a pure function: what one batch write stores.

:func:`plan_batch` takes the prepared items of a batch, the batch's run id and time, and the
ledger state the batch touches (which article each identity leads to; each article's latest
revision), and returns a :class:`BatchPlan`: the rows to insert (articles, identities,
revisions, observations, failures), one outcome per stored input, and the stale inputs to
hand back. It reads no database and no clock: ``tasks/store.py::write_batch`` reads the
state, calls it, inserts the rows and commits.

The rule: an extracted article is a new revision of its story only when its *story* differs
from the latest revision's, compared in the comparison form of ``tasks/comparison.py``
(title, authors and text normalised, boilerplate blocks left out); otherwise the input is an
``unchanged`` observation of the latest revision. Equal content hashes are unchanged without
further ado. A latest revision stored before story hashes existed (or under another version
of the form) has its story hash derived again from its stored fields, so no stored revision
looks changed on its next visit.

A source whose extraction was skipped (``KnownUnchanged``: same bytes, same extractor) is
checked against the latest revision's content hash: if another process stored a newer
revision since, it is *stale* (no outcome, no row) and goes back to be extracted again.

Web pages whose canonical URL is an identity of a known article join that article; a new
story's canonical URL becomes an alias of it. An identity never leads to two articles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from newsledger.tasks.comparison import (
    BlockChanges,
    block_changes,
    comparison_form,
    has_visible,
    is_current,
    normalise,
    story_hash,
)
from newsledger.tasks.diff import SentenceChange, first_changed_sentence, word_changes
from newsledger.tasks.errors import StoreError
from newsledger.tasks.models import (
    ArticleContent,
    ExtractedArticle,
    FailedInput,
    KnownUnchanged,
    PreparedItem,
    SourceDocument,
    StoredOutcome,
    article_id_for,
)

ChangeReason = Literal["first_seen", "edited", "reextracted"]


# --- the state a plan starts from ---------------------------------------------------------------


@dataclass(frozen=True)
class RevisionFields:
    """The fields of a latest revision that a new one is compared with (read only for the
    articles a batch may revise: :func:`articles_to_compare`)."""

    title: str | None
    authors: tuple[str, ...]
    text: str
    published_at: date | None = None
    modified_at: date | None = None
    published_timestamp: datetime | None = None
    modified_timestamp: datetime | None = None
    published_time_known: bool = False
    modified_time_known: bool = False
    raw_hash: str | None = None
    extractor_version: str | None = None
    story_hash: str | None = None  # as stored (None before migration 011)


@dataclass(frozen=True)
class LatestRevision:
    """An article's latest revision as a batch write sees it."""

    article_id: str
    revision: int
    content_hash: str
    fields: RevisionFields | None = None


@dataclass(frozen=True)
class LedgerState:
    """What the ledger holds for the identities of one batch."""

    article_of: Mapping[str, str] = field(default_factory=dict)  # identity → article id
    latest: Mapping[str, LatestRevision] = field(default_factory=dict)  # article id → latest


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleRow:
    article_id: str
    identity: str
    source_kind: str
    first_source: str
    first_seen_at: datetime


@dataclass(frozen=True)
class IdentityRow:
    identity: str
    article_id: str
    added_at: datetime


@dataclass(frozen=True)
class RevisionRow:
    article_id: str
    revision: int
    observed_at: datetime
    run_id: str
    content_hash: str
    story_hash: str
    raw_hash: str | None
    source: str
    title: str | None
    authors: list[str]
    outlet: str | None
    published_at: date | None
    modified_at: date | None
    published_timestamp: datetime | None
    modified_timestamp: datetime | None
    published_time_known: bool
    modified_time_known: bool
    language: str | None
    lede: str | None
    dateline: str | None
    section_headings: list[str]
    update_notes: list[str]
    canonical_url: str | None
    text: str
    word_count: int
    words_added: int
    words_removed: int
    changed_fields: list[str]
    change_reason: ChangeReason
    blocks_added: int
    blocks_removed: int
    blocks_changed: int
    boilerplate_blocks: int
    metadata: dict[str, Any]
    extractor_version: str


@dataclass(frozen=True)
class ObservationRow:
    run_id: str
    article_id: str | None
    identity: str | None
    input: str
    observed_at: datetime
    outcome: str
    revision: int | None
    content_hash: str | None
    raw_hash: str | None
    extractor_version: str | None
    file_signature: str | None


@dataclass(frozen=True)
class FailureRow:
    run_id: str
    input: str
    identity: str | None
    stage: str
    error: str
    message: str
    occurred_at: datetime


@dataclass(frozen=True)
class BatchPlan:
    """Everything one batch write inserts, and what it returns."""

    articles: tuple[ArticleRow, ...]
    identities: tuple[IdentityRow, ...]
    revisions: tuple[RevisionRow, ...]
    observations: tuple[ObservationRow, ...]
    failures: tuple[FailureRow, ...]
    outcomes: tuple[StoredOutcome, ...]
    stale: tuple[KnownUnchanged, ...]


# --- identities ---------------------------------------------------------------------------------


def outcome_url(document: SourceDocument, content: ArticleContent) -> str | None:
    """The URL an outcome (and its event) names: for a web page the URL that answered, never
    a canonical URL it merely states (that may be dead); for a file the URL it states."""
    if document.kind == "url":
        return document.url
    return content.canonical_url or document.url


def canonical_alias(item: PreparedItem) -> str | None:
    """The canonical URL a fetched page states, when it differs from the page's identity and
    is on the same site (a page cannot attach itself to another site's story)."""
    if not isinstance(item, ExtractedArticle) or item.document.kind != "url":
        return None
    canonical = item.content.canonical_url
    if not canonical or canonical == item.document.identity:
        return None
    return canonical if same_site(canonical, item.document.identity) else None


def same_site(first: str, second: str) -> bool:
    """Both URLs on one registered domain (``www.cnn.com`` ~ ``amp.cnn.com``), or one host."""
    from courlan import extract_domain
    from newsledger.tasks.urls import url_host

    try:
        return (extract_domain(first) or url_host(first)) == (
            extract_domain(second) or url_host(second)
        )
    except ValueError:
        return False


def batch_identities(items: Sequence[PreparedItem]) -> list[str]:
    """Every identity a batch may touch (its inputs', failures' and canonical aliases')."""
    return sorted(
        {item.document.identity for item in items if not isinstance(item, FailedInput)}
        | {item.identity for item in items if isinstance(item, FailedInput) and item.identity}
        | {c for item in items if (c := canonical_alias(item))}
    )


def articles_to_compare(
    items: Sequence[PreparedItem],
    article_of: Mapping[str, str],
    latest: Mapping[str, LatestRevision],
) -> set[str]:
    """The articles whose latest revision's fields the plan needs: those that an extracted
    item of the batch reaches with another content hash."""
    needed: set[str] = set()
    for item in items:
        if not isinstance(item, ExtractedArticle):
            continue
        canonical = canonical_alias(item)
        article_id = article_of.get(item.document.identity) or (
            article_of.get(canonical) if canonical else None
        )
        current = latest.get(article_id) if article_id else None
        if current is not None and current.content_hash != item.content.content_hash:
            needed.add(current.article_id)
    return needed


# --- comparing ----------------------------------------------------------------------------------


def fields_of(item: ExtractedArticle, content_story_hash: str) -> RevisionFields:
    content = item.content
    return RevisionFields(
        title=content.title,
        authors=tuple(content.authors),
        text=content.text,
        published_at=content.published_at,
        modified_at=content.modified_at,
        published_timestamp=content.published_timestamp,
        modified_timestamp=content.modified_timestamp,
        published_time_known=content.published_time_known,
        modified_time_known=content.modified_time_known,
        raw_hash=item.document.raw_hash,
        extractor_version=item.extractor_version,
        story_hash=content_story_hash,
    )


def stored_story_hash(fields: RevisionFields) -> str:
    """The story hash of a stored revision: as stored when made by the current rules, else
    derived from its stored title, authors and text."""
    if fields.story_hash is not None and is_current(fields.story_hash):
        return fields.story_hash
    return story_hash(fields.title, fields.authors, fields.text)


def _same_time(
    day_a: date | None,
    stamp_a: datetime | None,
    known_a: bool,
    day_b: date | None,
    stamp_b: datetime | None,
    known_b: bool,
) -> bool:
    """Two stated times agree: the same instant when both state a time of day, else the
    same stated day (a revision that only learnt the time has not changed the date)."""
    if known_a and known_b and stamp_a is not None and stamp_b is not None:
        return stamp_a == stamp_b
    return day_a == day_b


def changed_fields(before: RevisionFields, after: RevisionFields) -> list[str]:
    """The fields whose comparison form differs (dates: see :func:`_same_time`)."""
    changed = []
    if normalise(before.title or "") != normalise(after.title or ""):
        changed.append("title")
    if [normalise(a) for a in before.authors] != [normalise(a) for a in after.authors]:
        changed.append("authors")
    if comparison_form(before.text).text != comparison_form(after.text).text:
        changed.append("text")
    if not _same_time(
        before.published_at,
        before.published_timestamp,
        before.published_time_known,
        after.published_at,
        after.published_timestamp,
        after.published_time_known,
    ):
        changed.append("published_at")
    if not _same_time(
        before.modified_at,
        before.modified_timestamp,
        before.modified_time_known,
        after.modified_at,
        after.modified_timestamp,
        after.modified_time_known,
    ):
        changed.append("modified_at")
    return changed


# --- the plan -----------------------------------------------------------------------------------


def plan_batch(
    items: Sequence[PreparedItem],
    state: LedgerState,
    *,
    run_id: str,
    now: datetime,
) -> BatchPlan:
    """What a batch write of ``items`` stores, given the ledger ``state`` (module doc).

    ``state.latest`` must hold the fields of every article in :func:`articles_to_compare`;
    a plan that needs fields it was not given raises a StoreError (a caller bug)."""
    article_of: dict[str, str] = dict(state.article_of)
    latest: dict[str, LatestRevision] = dict(state.latest)
    articles: list[ArticleRow] = []
    identities: list[IdentityRow] = []
    revisions: list[RevisionRow] = []
    observations: list[ObservationRow] = []
    failures: list[FailureRow] = []
    outcomes: list[StoredOutcome] = []
    stale: list[KnownUnchanged] = []

    def observe(
        item_input: str,
        identity: str | None,
        article_id: str | None,
        outcome: str,
        revision: int | None,
        content_hash: str | None,
        raw_hash: str | None,
        extractor_version: str | None,
        file_signature: str | None = None,
    ) -> None:
        observations.append(
            ObservationRow(
                run_id,
                article_id,
                identity,
                item_input,
                now,
                outcome,
                revision,
                content_hash,
                raw_hash,
                extractor_version,
                file_signature,
            )
        )

    def seen_unchanged(
        item: ExtractedArticle | KnownUnchanged,
        current: LatestRevision,
        title: str | None,
        url: str | None,
    ) -> None:
        document = item.document
        observe(
            document.source,
            document.identity,
            current.article_id,
            "unchanged",
            current.revision,
            current.content_hash,
            document.raw_hash,
            item.extractor_version,
            document.file_signature,
        )
        outcomes.append(
            StoredOutcome(
                "unchanged", document.source, current.article_id, current.revision, title, url
            )
        )

    def alias(identity: str, article_id: str) -> None:
        article_of[identity] = article_id
        identities.append(IdentityRow(identity, article_id, now))

    for item in items:
        if isinstance(item, FailedInput):
            failed_article = article_of.get(item.identity or "")
            failures.append(
                FailureRow(
                    run_id, item.input, item.identity, item.stage, item.error, item.message, now
                )
            )
            observe(
                item.input, item.identity, failed_article, "failed", None, None, item.raw_hash, None
            )
            outcomes.append(
                StoredOutcome(
                    "failed",
                    item.input,
                    failed_article,
                    message=item.message,
                    stage=item.stage,
                    error=item.error,
                )
            )
            continue

        document = item.document
        article_id = article_of.get(document.identity)
        current = latest.get(article_id) if article_id else None

        if isinstance(item, KnownUnchanged):
            if current is None or current.content_hash != item.expected_content_hash:
                stale.append(item)
                continue
            title = current.fields.title if current.fields is not None else None
            seen_unchanged(item, current, title, document.url)
            continue

        content = item.content
        canonical = canonical_alias(item)
        if article_id is None and canonical and canonical in article_of:
            article_id = article_of[canonical]  # an alias of a known story
            alias(document.identity, article_id)
            current = latest.get(article_id)
        if article_id is None:
            article_id = article_id_for(document.identity)
            articles.append(
                ArticleRow(article_id, document.identity, document.kind, document.source, now)
            )
            alias(document.identity, article_id)
            current = latest.get(article_id)  # another identity may share the article
        if canonical and canonical not in article_of:
            alias(canonical, article_id)
        url = outcome_url(document, content)
        if current is not None and current.content_hash == content.content_hash:
            seen_unchanged(item, current, content.title, url)
            continue

        form = comparison_form(content.text)
        new_story = story_hash(content.title, content.authors, form, content.visible_text)
        after = fields_of(item, new_story)
        reason: ChangeReason
        previous_title: str | None = None
        first_change: SentenceChange | None = None
        if current is None:
            revision, outcome, reason = 1, "new", "first_seen"
            added, removed, changed = content.word_count, 0, []
            blocks = BlockChanges(len(form.blocks), 0, 0)
        else:
            before = current.fields
            if before is None:
                raise StoreError(
                    f"planning {document.source}: the fields of article {article_id}'s latest "
                    "revision were not read (articles_to_compare)"
                )
            stored = stored_story_hash(before)
            if stored == new_story or (
                # a revision stored before the shown text was compared: compare as it was
                content.visible_text is not None
                and not has_visible(stored)
                and stored == story_hash(content.title, content.authors, form)
            ):
                seen_unchanged(item, current, content.title, url)
                continue
            revision, outcome = current.revision + 1, "revised"
            reason = "reextracted" if before.raw_hash == document.raw_hash else "edited"
            added, removed = word_changes(before.text, content.text)
            first_change = first_changed_sentence(before.text, content.text)
            if before.title != content.title:
                previous_title = before.title
            changed = changed_fields(before, after)
            if content.visible_text is not None and not {"title", "authors", "text"} & set(changed):
                changed.append("visible_text")  # the page's shown text beside its articleBody
            blocks = block_changes(comparison_form(before.text), form)
        revisions.append(
            _revision_row(
                item,
                article_id,
                revision,
                run_id,
                now,
                new_story,
                added,
                removed,
                changed,
                reason,
                blocks,
                form.dropped,
            )
        )
        observe(
            document.source,
            document.identity,
            article_id,
            outcome,
            revision,
            content.content_hash,
            document.raw_hash,
            item.extractor_version,
            document.file_signature,
        )
        latest[article_id] = LatestRevision(article_id, revision, content.content_hash, after)
        outcomes.append(
            StoredOutcome(
                outcome,
                document.source,
                article_id,
                revision,
                content.title,
                url,
                added,
                removed,
                outlet=content.outlet,
                previous_title=previous_title,
                first_change=first_change.sentence if first_change else None,
                first_change_kind=first_change.kind if first_change else None,
                observed_at=now.isoformat(),
            )
        )

    return BatchPlan(
        tuple(articles),
        tuple(identities),
        tuple(revisions),
        tuple(observations),
        tuple(failures),
        tuple(outcomes),
        tuple(stale),
    )


def _revision_row(
    item: ExtractedArticle,
    article_id: str,
    revision: int,
    run_id: str,
    now: datetime,
    new_story: str,
    added: int,
    removed: int,
    changed: list[str],
    reason: ChangeReason,
    blocks: BlockChanges,
    boilerplate: int,
) -> RevisionRow:
    content: ArticleContent = item.content
    document = item.document
    return RevisionRow(
        article_id=article_id,
        revision=revision,
        observed_at=now,
        run_id=run_id,
        content_hash=content.content_hash,
        story_hash=new_story,
        raw_hash=document.raw_hash,
        source=document.source,
        title=content.title,
        authors=list(content.authors),
        outlet=content.outlet,
        published_at=content.published_at,
        modified_at=content.modified_at,
        published_timestamp=content.published_timestamp,
        modified_timestamp=content.modified_timestamp,
        published_time_known=content.published_time_known,
        modified_time_known=content.modified_time_known,
        language=content.language,
        lede=content.lede,
        dateline=content.dateline,
        section_headings=list(content.section_headings),
        update_notes=list(content.update_notes),
        canonical_url=content.canonical_url,
        text=content.text,
        word_count=content.word_count,
        words_added=added,
        words_removed=removed,
        changed_fields=changed,
        change_reason=reason,
        blocks_added=blocks.added,
        blocks_removed=blocks.removed,
        blocks_changed=blocks.changed,
        boilerplate_blocks=boilerplate,
        metadata=content.metadata,
        extractor_version=item.extractor_version,
    )
