"""Word-level differences between two revisions' texts (for change sizes and ``diff``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from newsledger.tasks.metadata import split_sentences

TOKEN = re.compile(r"\n\n|\S+")  # words, with paragraph breaks kept as tokens
PARAGRAPH = "\n\n"


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text or "")


def word_changes(old: str, new: str) -> tuple[int, int]:
    """(words added, words removed) going from ``old`` to ``new``."""
    a, b = tokens(old), tokens(new)
    added = removed = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            removed += sum(1 for t in a[i1:i2] if t != PARAGRAPH)
        if op in ("replace", "insert"):
            added += sum(1 for t in b[j1:j2] if t != PARAGRAPH)
    return added, removed


@dataclass(frozen=True)
class DiffPiece:
    kind: Literal["same", "added", "removed", "gap"]
    text: str


Opcode = tuple[str, int, int, int, int]


def _units(words: list[str]) -> tuple[list[tuple[str, ...]], list[int]]:
    """The tokens grouped into paragraphs and paragraph breaks, and where each unit starts."""
    units: list[tuple[str, ...]] = []
    starts: list[int] = []
    start, count = 0, len(words)
    while start < count:
        try:
            end = words.index(PARAGRAPH, start)
        except ValueError:
            end = count
        if end > start:
            units.append(tuple(words[start:end]))
            starts.append(start)
        if end < count:
            units.append((PARAGRAPH,))
            starts.append(end)
        start = end + 1
    starts.append(count)
    return units, starts


def anchored_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """Word-level opcodes (as ``SequenceMatcher.get_opcodes``) found paragraph first: whole
    paragraphs are aligned, and only the tokens of paragraphs that differ are compared word by
    word. The same diff as one word-level comparison whenever the unchanged paragraphs match
    as wholes (the usual edit), at a fraction of its cost on long texts (difflib's matching of
    frequent words grows with their count)."""
    units_a, starts_a = _units(a)
    units_b, starts_b = _units(b)
    result: list[Opcode] = []

    def add(op: str, i1: int, i2: int, j1: int, j2: int) -> None:
        if i1 == i2 and j1 == j2:
            return
        if result and result[-1][0] == op == "equal":
            last = result.pop()
            result.append(("equal", last[1], i2, last[3], j2))
        else:
            result.append((op, i1, i2, j1, j2))

    matcher = SequenceMatcher(None, units_a, units_b, autojunk=False)
    for op, u1, u2, v1, v2 in matcher.get_opcodes():
        i1, i2, j1, j2 = starts_a[u1], starts_a[u2], starts_b[v1], starts_b[v2]
        if op == "equal":
            add("equal", i1, i2, j1, j2)
            continue
        words = SequenceMatcher(None, a[i1:i2], b[j1:j2], autojunk=False)
        for wop, w1, w2, x1, x2 in words.get_opcodes():
            add(wop, i1 + w1, i1 + w2, j1 + x1, j1 + x2)
    return result


def word_diff(
    old: str, new: str, context: int = 8, *, anchored: bool = False
) -> Iterator[DiffPiece]:
    """Word diff as pieces; unchanged runs longer than ``2*context`` words become a gap.
    ``anchored``: align whole paragraphs first (:func:`anchored_opcodes`, much faster on
    long texts)."""
    a, b = tokens(old), tokens(new)

    def join(words: list[str]) -> str:
        return " ".join(words).replace(" \n\n ", "\n\n").replace("\n\n ", "\n\n")

    opcodes: Sequence[Opcode] = (
        anchored_opcodes(a, b)
        if anchored
        else SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    )
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            same = a[i1:i2]
            first, last = index == 0, index == len(opcodes) - 1
            if (
                len(same) > 2 * context
                or (first and len(same) > context)
                or (last and len(same) > context)
            ):
                head = [] if first else same[:context]
                tail = [] if last else same[-context:]
                if head:
                    yield DiffPiece("same", join(head))
                yield DiffPiece("gap", "…")
                if tail:
                    yield DiffPiece("same", join(tail))
            else:
                yield DiffPiece("same", join(same))
            continue
        if op in ("replace", "delete"):
            yield DiffPiece("removed", join(a[i1:i2]))
        if op in ("replace", "insert"):
            yield DiffPiece("added", join(b[j1:j2]))


MAX_SENTENCE_CHARS = 500


@dataclass(frozen=True)
class SentenceChange:
    """The first sentence that differs between two texts: ``added`` (new in the later text),
    ``changed`` (as it now reads) or ``removed`` (as it read)."""

    kind: Literal["added", "changed", "removed"]
    sentence: str


def sentences(text: str) -> list[str]:
    """The sentences of a text, paragraph by paragraph (as update notes are split)."""
    return [s for paragraph in (text or "").split(PARAGRAPH) for s in split_sentences(paragraph)]


def first_changed_sentence(old: str, new: str) -> SentenceChange | None:
    """The first sentence of ``new`` that ``old`` did not have (or, when the first difference
    is a deletion, the sentence removed); None when the sentences are the same. Sentences
    longer than ``MAX_SENTENCE_CHARS`` are cut there (with "…")."""
    a, b = sentences(old), sentences(new)
    for op, i1, _i2, j1, _j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "delete":
            return SentenceChange("removed", _cut(a[i1]))
        return SentenceChange("changed" if op == "replace" else "added", _cut(b[j1]))
    return None


def _cut(sentence: str) -> str:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return sentence
    return sentence[: MAX_SENTENCE_CHARS - 1].rstrip() + "…"
