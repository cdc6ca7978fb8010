"""The revision planner (tasks/revisions.py) and the comparison form (tasks/comparison.py),
without a database: properties of plan_batch over generated batches and ledger states, and
what the comparison form keeps and drops."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsledger.tasks.comparison import (
    boilerplate_kind,
    comparison_form,
    normalise,
    story_hash,
)
from newsledger.tasks.errors import StoreError
from newsledger.tasks.metadata import content_fingerprint
from newsledger.tasks.models import (
    ArticleContent,
    ExtractedArticle,
    FailedInput,
    KnownUnchanged,
    PreparedItem,
    SourceDocument,
)
from newsledger.tasks.revisions import (
    BatchPlan,
    LatestRevision,
    LedgerState,
    RevisionFields,
    articles_to_compare,
    plan_batch,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PARAGRAPHS = [
    "The council met on Tuesday and voted 7-2 to rebuild the sea wall.",
    "Work is expected to start in March and cost $4.5 million, officials said.",
    "Residents who lost homes in the storm will be offered temporary housing.",
    "“We have waited long enough,” said Mayor Ana Ortiz — to applause.",
    "The regional government has promised to cover half of the cost.",
    "Opponents said the plan ignores rising sea levels further north.",
]
NOISE = [
    "Advertisement",
    "ADVERTISEMENT",
    "Anzeige",
    "Publicité",
    "Story continues below advertisement",
    "123 comments",
    "Comments (45)",
    "Share this article",
    "Updated 3 minutes ago",
    "Page generated 12:03 UTC",
    "As of 10:32 AM EST",
    "Published 10:32 AM EST, Tue September 2, 2025",
    "Related: Storm hits coast | Town counts the cost",
    "Read more: Why the sea wall failed",
    "Sign in to continue reading",
    "Already a subscriber? Log in",
    "Subscribe to our newsletter",
    # an ad label and its creative's line in one block (bench_fidelity ad_slot)
    "Advertisement Save 20% on home insurance with Acme Mutual today",
    "ADVERTISEMENT: Compare 2026 electric cars: book a free test drive near you",
]
IDENTITIES = ["file:a.txt", "file:b.txt", "https://news.example/a", "https://news.example/b"]


def document(identity: str, raw: str, source: str | None = None) -> SourceDocument:
    data = raw.encode("utf-8")
    return SourceDocument(
        identity=identity,
        source=source or identity.removeprefix("file:"),
        kind="url" if identity.startswith("http") else "text",
        raw=data,
        raw_hash=hashlib.sha256(data).hexdigest(),
        url=identity if identity.startswith("http") else None,
    )


def extracted(
    identity: str,
    blocks: list[str],
    title: str = "Sea wall to be rebuilt",
    *,
    canonical: str | None = None,
    source: str | None = None,
    published: date | None = None,
) -> ExtractedArticle:
    text = "\n\n".join(blocks)
    content = ArticleContent(
        title=title,
        authors=("Ann Lee",),
        outlet="Example News",
        published_at=published,
        modified_at=None,
        language="en",
        text=text,
        word_count=len(text.split()),
        lede=None,
        dateline=None,
        section_headings=(),
        update_notes=(),
        canonical_url=canonical,
        content_hash=content_fingerprint(title, ["Ann Lee"], text),
    )
    return ExtractedArticle(document(identity, title + text, source), content, "text-2")


def apply(state: LedgerState, plan: BatchPlan) -> LedgerState:
    """The ledger state after the plan's rows are stored (what the next batch would read)."""
    article_of = dict(state.article_of)
    latest = dict(state.latest)
    for row in plan.identities:
        article_of.setdefault(row.identity, row.article_id)
    for rev in plan.revisions:
        fields = RevisionFields(
            rev.title,
            tuple(rev.authors),
            rev.text,
            rev.published_at,
            rev.modified_at,
            raw_hash=rev.raw_hash,
            extractor_version=rev.extractor_version,
            story_hash=rev.story_hash,
        )
        latest[rev.article_id] = LatestRevision(
            rev.article_id, rev.revision, rev.content_hash, fields
        )
    return LedgerState(article_of, latest)


def plan(items: list[PreparedItem], state: LedgerState | None = None) -> BatchPlan:
    return plan_batch(items, state or LedgerState(), run_id="run-1", now=NOW)


# --- strategies ---------------------------------------------------------------------------------

story_blocks = st.lists(st.sampled_from(PARAGRAPHS), min_size=1, max_size=5, unique=True)


@st.composite
def prepared_items(draw: st.DrawFn) -> PreparedItem:
    identity = draw(st.sampled_from(IDENTITIES))
    kind = draw(st.sampled_from(["extracted", "extracted", "extracted", "failed", "known"]))
    if kind == "failed":
        return FailedInput(identity, "clean", "empty", "nothing to store", identity)
    item = extracted(identity, draw(story_blocks), draw(st.sampled_from(["A title", "B title"])))
    if kind == "known":
        return KnownUnchanged(item.document, item.content.content_hash, "text-2")
    return item


batches = st.lists(prepared_items(), min_size=1, max_size=8)


def with_noise(blocks: list[str], draw: st.DrawFn) -> list[str]:
    noisy = list(blocks)
    for noise in draw(st.lists(st.sampled_from(NOISE), min_size=1, max_size=4)):
        noisy.insert(draw(st.integers(0, len(noisy))), noise)
    return noisy


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(batches, min_size=1, max_size=3))
def test_every_input_has_one_outcome_and_revisions_are_contiguous(
    runs: list[list[PreparedItem]],
) -> None:
    state = LedgerState()
    for items in runs:
        result = plan(items, state)
        # exactly one outcome per input, in input order; only KnownUnchanged can be stale
        stale_ids = {id(item) for item in result.stale}
        assert all(isinstance(item, KnownUnchanged) for item in result.stale)
        inputs = [
            item.input if isinstance(item, FailedInput) else item.document.source
            for item in items
            if id(item) not in stale_ids
        ]
        assert [o.input for o in result.outcomes] == inputs
        assert len(result.outcomes) + len(result.stale) == len(items)
        assert len(result.observations) == len(result.outcomes)
        # revision numbers per article run on from the latest stored one, without gaps
        per_article: dict[str, list[int]] = {}
        for rev in result.revisions:
            per_article.setdefault(rev.article_id, []).append(rev.revision)
        for article_id, numbers in per_article.items():
            start = state.latest[article_id].revision + 1 if article_id in state.latest else 1
            assert numbers == list(range(start, start + len(numbers)))
        # an identity leads to one article, and never to another than before
        seen = Counter(row.identity for row in result.identities)
        assert max(seen.values(), default=1) == 1
        assert not {row.identity for row in result.identities} & set(state.article_of)
        # a new article row for every article first met, and only then
        assert {a.article_id for a in result.articles}.isdisjoint(state.latest)
        # deterministic
        assert plan(items, state) == result
        state = apply(state, result)


@settings(max_examples=100, deadline=None)
@given(batches)
def test_the_same_batch_again_stores_nothing(items: list[PreparedItem]) -> None:
    """(One input per story: a batch holding A then B of one story rightly revises it twice
    when given again, B → A → B.)"""
    once = {
        (item.identity if isinstance(item, FailedInput) else item.document.identity): item
        for item in reversed(items)
    }
    items = list(once.values())
    first = plan(items)
    second = plan(items, apply(LedgerState(), first))
    assert second.revisions == () and second.articles == () and second.identities == ()
    assert {o.outcome for o in second.outcomes} <= {"unchanged", "failed"}


@settings(max_examples=100, deadline=None)
@given(story_blocks, st.sampled_from(IDENTITIES))
def test_same_content_twice_in_a_batch_is_unchanged(blocks: list[str], identity: str) -> None:
    item = extracted(identity, blocks)
    result = plan([item, item])
    assert [o.outcome for o in result.outcomes] == ["new", "unchanged"]
    assert [r.revision for r in result.revisions] == [1]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_noise_makes_no_revision(data: st.DataObject) -> None:
    blocks = data.draw(story_blocks)
    base = extracted("file:a.txt", blocks)
    state = apply(LedgerState(), plan([base]))
    variant = extracted("file:a.txt", with_noise(blocks, data.draw))
    reflowed = extracted("file:a.txt", [b.replace(" ", "  \n ") for b in blocks])
    for item in (variant, reflowed):
        result = plan([item], state)
        assert [o.outcome for o in result.outcomes] == ["unchanged"], item.content.text


EDITS = ["number", "sentence", "drop", "headline", "note", "word"]


def edit(blocks: list[str], kind: str, where: int) -> tuple[list[str], str]:
    """A real edit of the story at block ``where``; returns the blocks and the title."""
    edited = list(blocks)
    title = "Sea wall to be rebuilt"
    where %= len(blocks)
    if kind == "number":
        digits = [i for i, c in enumerate(edited[where]) if c.isdigit()]
        if digits:
            i = digits[0]
            edited[where] = (
                edited[where][:i] + str((int(edited[where][i]) + 1) % 10) + (edited[where][i + 1 :])
            )
        else:
            edited[where] += " 12 more were hurt."
    elif kind == "sentence":
        edited[where] += " Police are investigating."
    elif kind == "drop":
        if len(edited) == 1:
            edited.append("A new paragraph was added.")
        else:
            del edited[where]
    elif kind == "headline":
        title = "Sea wall will be rebuilt, council says"
    elif kind == "note":
        edited.append("This story has been updated with the vote count.")
    else:
        edited[where] = (
            edited[where].replace("the", "a", 1)
            if "the" in edited[where]
            else (edited[where] + " Indeed.")
        )
    return edited, title


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_an_edit_anywhere_makes_a_revision_even_among_noise(data: st.DataObject) -> None:
    blocks = data.draw(story_blocks)
    noisy = with_noise(blocks, data.draw)
    state = apply(LedgerState(), plan([extracted("file:a.txt", noisy)]))
    kind = data.draw(st.sampled_from(EDITS))
    edited, title = edit(blocks, kind, data.draw(st.integers(0, 10)))
    result = plan([extracted("file:a.txt", with_noise(edited, data.draw), title)], state)
    assert [o.outcome for o in result.outcomes] == ["revised"], (kind, edited)
    (rev,) = result.revisions
    assert rev.revision == 2 and rev.change_reason == "edited"
    assert rev.changed_fields == (["title"] if kind == "headline" else ["text"])


# --- examples -----------------------------------------------------------------------------------


def test_a_revision_says_why_it_was_made() -> None:
    base = extracted("file:a.txt", PARAGRAPHS[:3])
    first = plan([base])
    (rev1,) = first.revisions
    assert (rev1.change_reason, rev1.blocks_added, rev1.changed_fields) == ("first_seen", 3, [])
    edited = extracted(
        "file:a.txt", [PARAGRAPHS[0], PARAGRAPHS[1] + " More.", "Advertisement", PARAGRAPHS[3]]
    )
    (rev2,) = plan([edited], apply(LedgerState(), first)).revisions
    assert rev2.change_reason == "edited"
    assert (rev2.blocks_added, rev2.blocks_removed, rev2.blocks_changed) == (0, 0, 2)
    assert rev2.boilerplate_blocks == 1
    # the same bytes read by another extractor: a revision of the extraction, not the story
    state = apply(LedgerState(), first)
    redone = replace(edited, document=base.document, extractor_version="text-3")
    (rev3,) = plan([redone], state).revisions
    assert rev3.change_reason == "reextracted"


def test_a_revision_stored_before_story_hashes_reads_as_before() -> None:
    """A latest revision with no story hash (stored before migration 011) or one of another
    version: its story is derived from its stored text, so the same page is unchanged."""
    item = extracted("file:a.txt", ["Advertisement", *PARAGRAPHS[:2]])
    article_id = "0123456789abcdef"
    for stored in (None, "story-v0:abc"):
        fields = RevisionFields(
            item.content.title,
            item.content.authors,
            item.content.text.replace("\n\nAdvertisement", ""),
            story_hash=stored,
        )
        state = LedgerState(
            {"file:a.txt": article_id}, {article_id: LatestRevision(article_id, 4, "old", fields)}
        )
        result = plan([item], state)
        assert [(o.outcome, o.revision) for o in result.outcomes] == [("unchanged", 4)]
        assert result.observations[0].content_hash == "old"  # the revision it matched


def test_a_story_v1_revision_with_an_ad_creative_reads_as_before() -> None:
    """A revision stored under the first form (``story-v1``, which kept an ad label and its
    creative as story text): the same page seen again is unchanged, and so is the page with
    the creative rotated (its form is derived again with the current rules)."""
    ad = "Advertisement Save 20% on home insurance with Acme Mutual today"
    stored_item = extracted("file:a.txt", [PARAGRAPHS[0], ad, *PARAGRAPHS[1:3]])
    article_id = "0123456789abcdef"
    fields = RevisionFields(
        stored_item.content.title,
        stored_item.content.authors,
        stored_item.content.text,
        story_hash="story-v1:" + "0" * 64,
    )
    state = LedgerState(
        {"file:a.txt": article_id}, {article_id: LatestRevision(article_id, 2, "old", fields)}
    )
    rotated = ad.replace("Save 20% on home insurance with Acme Mutual today", "Compare cars now")
    for item in (stored_item, extracted("file:a.txt", [PARAGRAPHS[0], rotated, *PARAGRAPHS[1:3]])):
        result = plan([item], state)
        assert [(o.outcome, o.revision) for o in result.outcomes] == [("unchanged", 2)]


def test_known_unchanged_is_stale_when_the_latest_revision_moved_on() -> None:
    item = extracted("file:a.txt", PARAGRAPHS[:2])
    state = apply(LedgerState(), plan([item]))
    known = KnownUnchanged(item.document, item.content.content_hash, "text-2")
    assert [o.outcome for o in plan([known], state).outcomes] == ["unchanged"]
    moved = KnownUnchanged(item.document, "another hash", "text-2")
    result = plan([moved], state)
    assert result.stale == (moved,) and result.outcomes == () and result.observations == ()


def test_a_page_naming_a_known_canonical_joins_that_story() -> None:
    first = extracted("https://news.example/a", PARAGRAPHS[:2])
    state = apply(LedgerState(), plan([first]))
    amp = extracted(
        "https://news.example/a?amp=1", PARAGRAPHS[:2], canonical="https://news.example/a"
    )
    result = plan([amp], state)
    assert result.articles == ()
    assert [(r.identity, r.article_id) for r in result.identities] == [
        ("https://news.example/a?amp=1", state.article_of["https://news.example/a"])
    ]
    assert [o.outcome for o in result.outcomes] == ["unchanged"]
    # another site's canonical is no alias
    other = extracted("https://other.example/x", PARAGRAPHS[:2], canonical="https://news.example/a")
    assert len(plan([other], state).articles) == 1


def test_missing_compared_fields_are_a_caller_error() -> None:
    item = extracted("file:a.txt", PARAGRAPHS[:2])
    state = LedgerState({"file:a.txt": "x"}, {"x": LatestRevision("x", 1, "other")})
    assert articles_to_compare([item], state.article_of, state.latest) == {"x"}
    with pytest.raises(StoreError, match="were not read"):
        plan([item], state)


# --- the comparison form ------------------------------------------------------------------------


@pytest.mark.parametrize("block", NOISE)
def test_boilerplate_blocks_are_recognised(block: str) -> None:
    assert boilerplate_kind(normalise(block)) is not None


@pytest.mark.parametrize(
    "block",
    [
        *PARAGRAPHS,
        "2024",
        "42",
        "April 2, 2024",
        "23.10.2018",
        "4.50",
        "West 3-2",
        "Log in twice, officials said.",
        "Register to vote by Friday, officials urged.",
        "Updated at 10:00: The death toll rose to 12.",
        "The app asks users to sign in with a passport.",
        "Related developments are expected next week, the minister said.",
        "Advertisement revenue fell by 12%.",
        "Share prices rose 3% on Tuesday.",
        "Advertisement spending rose 5% this year.",
        "Anzeige gegen Unbekannt",
        "Werbung für Abtreibung bleibt verboten",
        "Sponsored by the city, the festival opens on Friday.",
    ],
)
def test_story_text_is_never_boilerplate(block: str) -> None:
    assert boilerplate_kind(normalise(block)) is None


def test_a_rotated_ad_creative_beside_its_label_is_no_edit() -> None:
    """An ad slot whose label and creative trafilatura keeps as one block, and whose creative
    rotates between visits: the same story (measured: bench_fidelity ad_slot)."""
    before = "\n\n".join(
        [
            PARAGRAPHS[0],
            "Advertisement Save 20% on home insurance with Acme Mutual today",
            *PARAGRAPHS[1:],
        ]
    )
    after = "\n\n".join(
        [
            PARAGRAPHS[0],
            "Advertisement Compare 2026 electric cars: book a free test drive near you",
            *PARAGRAPHS[1:],
        ]
    )
    assert story_hash("T", [], before) == story_hash("T", [], after)
    assert story_hash("T", [], before) == story_hash("T", [], "\n\n".join(PARAGRAPHS))
    edited = before.replace("7-2", "6-3")
    assert story_hash("T", [], before) != story_hash("T", [], edited)


def test_a_related_box_is_dropped_up_to_the_next_paragraph() -> None:
    text = "\n\n".join(
        [
            PARAGRAPHS[0],
            "Related stories",
            "Storm hits coast",
            "Town counts the cost",
            PARAGRAPHS[1],
        ]
    )
    form = comparison_form(text)
    assert form.blocks == (normalise(PARAGRAPHS[0]), normalise(PARAGRAPHS[1]))
    assert form.dropped == 3


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_story_hash_is_stable_under_normalisation(title: str, text: str) -> None:
    assert story_hash(title, ["A"], text) == story_hash(normalise(title), ["A"], text)
    assert story_hash(title, ["A"], text) == story_hash(title, ["A"], text.replace(" ", "  "))
    assert normalise(normalise(text)) == normalise(text)


def test_the_shown_text_beside_an_article_body_is_compared() -> None:
    """A story whose text is its articleBody hashes the page's shown text too: an edit there
    makes a revision ("visible_text"); a revision stored before that was compared is matched
    as it was hashed then (text only), so the same page stays unchanged."""
    base = extracted("file:a.txt", PARAGRAPHS[:4])
    shown = "\n\n".join(PARAGRAPHS[:2])
    first = replace(base, content=replace(base.content, visible_text=shown))
    state = apply(LedgerState(), plan([first]))
    (rev,) = plan([first], state).revisions or (None,)
    assert rev is None  # the same page again: nothing
    edited_shown = shown.replace("7-2", "8-1")
    edited = replace(
        first,
        content=replace(first.content, visible_text=edited_shown, content_hash="changed"),
    )
    (rev2,) = plan([edited], state).revisions
    assert rev2.changed_fields == ["visible_text"]
    # noise in the shown text is no edit
    noisy = replace(
        first,
        content=replace(
            first.content, visible_text=shown + "\n\nAdvertisement", content_hash="noisy"
        ),
    )
    assert not plan([noisy], state).revisions
    # a latest revision hashed without the shown text (before it was compared)
    article_id = next(iter(state.latest))
    old = state.latest[article_id]
    assert old.fields is not None
    old_fields = replace(
        old.fields,
        story_hash=story_hash(base.content.title, base.content.authors, base.content.text),
    )
    older = LedgerState(
        state.article_of, {article_id: replace(old, content_hash="v4", fields=old_fields)}
    )
    result = plan([first], older)
    assert [o.outcome for o in result.outcomes] == ["unchanged"]
