"""Property tests (hypothesis).

* For any sequence of versions of a story, written one ingest at a time into a file rewritten
  between ingests, the stored revisions are the sequence with consecutive repeats removed; and
  re-ingesting after any prefix (the file still holding that prefix's last version) adds nothing.
* ``normalize_text`` is idempotent and keeps paragraphs; ``split_byline`` gives back the names
  joined into a byline.

Each example gets its own real DuckDB file (function-scoped fixtures do not reset between
examples, so the test makes its own temporary directory)."""

from __future__ import annotations

import itertools
import os
import tempfile
import unicodedata
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsledger.tasks.clean import normalize_text
from newsledger.tasks.metadata import split_byline
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings

# A small alphabet of versions so that repeats (consecutive and not) are common.
HEADER = "date 2025-02-03 By Ann Lee and Bo Chan, Reuters\n\n"
VERSIONS = [
    "The council met on Tuesday. It voted to rebuild the wall.",
    "The council met on Tuesday. It voted to rebuild the wall.\n\nWork starts in spring.",
    "The council met on Wednesday. It voted against rebuilding the wall.",
    "The council met on Tuesday.   It voted to rebuild\tthe wall. Residents cheered.",
]


# A DuckDB file per example: on tmpfs where there is one (each ingest opens the file four
# times and every close syncs it; the ledger semantics do not depend on the disk).
FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def stored_texts(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("SELECT revision, text FROM revisions ORDER BY revision").fetchall()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    return [r[1] for r in rows]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequence=st.lists(st.integers(0, len(VERSIONS) - 1), min_size=1, max_size=4),
    data=st.data(),
)
def test_revisions_are_the_sequence_without_consecutive_repeats(
    sequence: list[int], data: st.DataObject
) -> None:
    reingest_after = data.draw(st.integers(1, len(sequence)), label="re-ingest after prefix")
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        story = folder / "story.txt"
        config = Settings(db=Path(tmp) / "ledger.duckdb")
        for position, version in enumerate(sequence, start=1):
            story.write_text(HEADER + VERSIONS[version], encoding="utf-8")
            ingest_paths([str(folder)], config)
            if position == reingest_after:
                before = stored_texts(config.db)
                again = ingest_paths([str(folder)], config)
                assert (again.new, again.revised, again.unchanged) == (0, 0, 1)
                assert stored_texts(config.db) == before

        expected = [normalize_text(VERSIONS[v]) for v, _group in itertools.groupby(sequence)]
        assert stored_texts(config.db) == expected


# --------------------------------------------------------------------------- normalize_text

WORDS = st.text(
    alphabet=st.characters(
        categories=["L", "M", "N", "P", "S"], exclude_characters="\u2028\u2029\x85"
    ),
    min_size=1,
    max_size=8,
)
SPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", " \t ", "\u2003"])
BREAK = st.sampled_from(["\n\n", "\n\n\n", "\r\n\r\n", "\n \n", "\n\t\n\n"])


@st.composite
def messy_text(draw: st.DrawFn) -> tuple[str, list[list[str]]]:
    paragraphs = draw(st.lists(st.lists(WORDS, min_size=1, max_size=6), min_size=1, max_size=5))
    parts = []
    for index, words in enumerate(paragraphs):
        if index:
            parts.append(draw(BREAK))
        parts.append(draw(SPACE) if draw(st.booleans()) else "")
        for position, word in enumerate(words):
            if position:
                parts.append(draw(SPACE) if draw(st.booleans()) else "\n")
            parts.append(word)
    return "".join(parts), paragraphs


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "\n\n\n" not in once and "\r" not in once
    assert once == once.strip()


@settings(max_examples=200, deadline=None)
@given(messy_text())
def test_normalize_text_folds_space_and_keeps_paragraphs(
    sample: tuple[str, list[list[str]]],
) -> None:
    text, paragraphs = sample
    result = normalize_text(text)
    expected = [" ".join(unicodedata.normalize("NFC", " ".join(p)).split()) for p in paragraphs]
    assert result.split("\n\n") == expected
    assert unicodedata.is_normalized("NFC", result)
    assert normalize_text(result) == result


# --------------------------------------------------------------------------- split_byline

FIRST = [
    "Ann",
    "Bo",
    "Cyrus",
    "Dana",
    "Émile",
    "Fatima",
    "Grace",
    "Hiro",
    "Ines",
    "José",
    "Mary-Kate",
    "Tal",
    "Zoë",
]
LAST = [
    "Lee",
    "Chan",
    "Karni",
    "Shalev",
    "O'Brien",
    "García Márquez",
    "Nguyen",
    "Smith-Jones",
    "van der Berg",
    "Okafor",
    "Müller",
    "Al-Masri",
]
NAME = st.builds(
    lambda first, last: f"{first} {last}", st.sampled_from(FIRST), st.sampled_from(LAST)
)
NAMES = st.lists(NAME, min_size=1, max_size=5, unique=True)
OUTLETS = ["CNN", "Reuters", "AP", "The Washington Post", "BBC News", "Associated Press"]


def byline_forms(names: list[str]) -> list[str]:
    if len(names) == 1:
        return names[:]
    return [
        " and ".join(names),
        ", ".join(names),
        ", ".join(names[:-1]) + " and " + names[-1],
        ", ".join(names[:-1]) + ", and " + names[-1],
        "; ".join(names),
    ]


@settings(max_examples=150, deadline=None)
@given(NAMES, st.sampled_from(["", "By ", "by ", "BY "]), st.sampled_from([None, *OUTLETS]))
def test_split_byline_gives_back_the_names(
    names: list[str], prefix: str, outlet: str | None
) -> None:
    for form in byline_forms(names):
        byline = prefix + form + (f", {outlet}" if outlet else "")
        assert split_byline(byline) == (names, outlet), byline
