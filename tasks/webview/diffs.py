"""The diff between two revisions as the web view, the feeds and the Python API show it:
field changes (title and byline word by word, stated times), the text word by word inline
(:func:`tasks.diff.word_diff`), and side by side (paragraphs aligned, then words), with the
paragraphs that carry an update note marked."""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import zip_longest
from typing import Any, Literal

from newsledger.tasks.diff import PARAGRAPH, DiffPiece, word_diff

EVERYTHING = 1 << 30  # a context so large that no unchanged run is elided

RowKind = Literal["same", "changed", "removed", "added"]


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None
    after: str | None
    pieces: list[DiffPiece]  # word diff of before -> after


@dataclass(frozen=True)
class SideRow:
    """One aligned pair of paragraphs: the old one's words (same/removed) on the left, the new
    one's (same/added) on the right; ``note`` when the new paragraph is an update note."""

    kind: RowKind
    left: list[DiffPiece]
    right: list[DiffPiece]
    note: bool = False


@dataclass(frozen=True)
class StoryDiff:
    old: dict[str, Any]  # revision, observed_at, title, authors, published, modified, text
    new: dict[str, Any]
    fields: list[FieldChange]
    inline: list[DiffPiece]
    side_by_side: list[SideRow]
    update_notes: list[str] = field(default_factory=list)

    @property
    def text_changed(self) -> bool:
        return self.old.get("text") != self.new.get("text")

    def as_dict(self) -> dict[str, Any]:
        def pieces(items: list[DiffPiece]) -> list[dict[str, str]]:
            return [{"kind": p.kind, "text": p.text} for p in items]

        def revision(data: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in data.items() if k != "text"}

        return {
            "from": revision(self.old),
            "to": revision(self.new),
            "text_changed": self.text_changed,
            "fields": [
                {"field": f.field, "before": f.before, "after": f.after, "diff": pieces(f.pieces)}
                for f in self.fields
            ],
            "update_notes": self.update_notes,
            "inline": pieces(self.inline),
            "side_by_side": [
                {
                    "kind": row.kind,
                    "note": row.note,
                    "left": pieces(row.left),
                    "right": pieces(row.right),
                }
                for row in self.side_by_side
            ],
        }

    def __str__(self) -> str:
        """The diff as text: field changes, then ``[-removed-]{+added+}`` inline."""
        lines = [
            f"revision {self.old.get('revision')} → revision {self.new.get('revision')}",
            *(f"{f.field}: {f.before or '—'} → {f.after or '—'}" for f in self.fields),
        ]
        if not self.text_changed:
            lines.append("text: unchanged")
            return "\n".join(lines)
        body = []
        for piece in self.inline:
            if piece.kind == "removed":
                body.append(f"[-{piece.text}-]")
            elif piece.kind == "added":
                body.append(f"{{+{piece.text}+}}")
            elif piece.kind == "gap":
                body.append("...")
            else:
                body.append(piece.text)
        lines.append(" ".join(body))
        return "\n".join(lines)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in (text or "").split(PARAGRAPH) if p.strip()]


def _is_note(paragraph: str, notes: list[str]) -> bool:
    folded = " ".join(paragraph.split()).casefold()
    for note in notes:
        wanted = " ".join(note.split()).casefold()
        if wanted and (wanted in folded or folded in wanted):
            return True
    return False


def side_by_side(old: str, new: str, notes: list[str]) -> list[SideRow]:
    """Paragraphs aligned (difflib on whole paragraphs), then each replaced pair word by word."""
    a, b = _paragraphs(old), _paragraphs(new)
    rows: list[SideRow] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            for paragraph in a[i1:i2]:
                piece = [DiffPiece("same", paragraph)]
                rows.append(SideRow("same", piece, piece, _is_note(paragraph, notes)))
            continue
        for before, after in zip_longest(a[i1:i2], b[j1:j2]):
            if after is None:
                rows.append(SideRow("removed", [DiffPiece("removed", before)], []))
            elif before is None:
                rows.append(
                    SideRow("added", [], [DiffPiece("added", after)], _is_note(after, notes))
                )
            else:
                pieces = list(word_diff(before, after, context=EVERYTHING))
                rows.append(
                    SideRow(
                        "changed",
                        [p for p in pieces if p.kind in ("same", "removed")],
                        [p for p in pieces if p.kind in ("same", "added")],
                        _is_note(after, notes),
                    )
                )
    return rows


def _field_change(name: str, before: str | None, after: str | None) -> FieldChange | None:
    if (before or None) == (after or None):
        return None
    return FieldChange(name, before, after, list(word_diff(before or "", after or "", EVERYTHING)))


# Revisions never change, and feed readers ask for the same feed again and again: the inline
# word diff (the costly part of a feed entry: ~2-5 ms for two 600-word texts) is memoized on
# the two texts themselves, so a hit is always exact. Bounded: 512 pairs of texts and their
# pieces, about 10 MB at 600 words each.
@lru_cache(maxsize=512)
def inline_diff(old_text: str, new_text: str, context: int) -> tuple[DiffPiece, ...]:
    """The word diff of two texts, paragraphs aligned first (``word_diff(anchored=True)``)."""
    return tuple(word_diff(old_text, new_text, context=context, anchored=True))


def story_diff(
    old: dict[str, Any],
    new: dict[str, Any],
    update_notes: list[str],
    context: int = 40,
    side: bool = True,
) -> StoryDiff:
    """The diff from revision ``old`` to ``new`` (dicts with title, authors, published,
    modified, text); ``update_notes``: the new revision's, marked where they appear;
    ``side``: also align the paragraphs side by side (feeds show only the inline diff)."""
    fields = [
        change
        for change in (
            _field_change("title", old.get("title"), new.get("title")),
            _field_change(
                "authors", ", ".join(old.get("authors") or []), ", ".join(new.get("authors") or [])
            ),
            _field_change("published", old.get("published"), new.get("published")),
            _field_change("modified", old.get("modified"), new.get("modified")),
        )
        if change is not None
    ]
    old_text, new_text = old.get("text") or "", new.get("text") or ""
    inline = list(inline_diff(old_text, new_text, context)) if old_text != new_text else []
    return StoryDiff(
        old=old,
        new=new,
        fields=fields,
        inline=inline,
        side_by_side=side_by_side(old_text, new_text, update_notes) if side else [],
        update_notes=update_notes,
    )


__all__ = ["FieldChange", "SideRow", "StoryDiff", "inline_diff", "side_by_side", "story_diff"]
