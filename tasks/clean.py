"""Clean stage: raw bytes → normalised blocks of text (paragraphs, headings, lists, quotes).

Text files in the seed format (optional header block, paragraphs separated by blank lines) are
parsed here; HTML goes through trafilatura (main text, boilerplate dropped) and htmldate
(original vs updated date). All text is Unicode NFC with white space folded inside a block;
blocks are joined by one blank line, so paragraph breaks survive.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from typing import Any, Literal

from newsledger.tasks.encoding import decode_html, decode_text
from newsledger.tasks.errors import EmptyExtractionError, ExtractionError
from newsledger.tasks.models import SourceDocument
from newsledger.tasks.settings import Settings

# Bump when the output of clean/metadata changes for the same input: stored raw pages are
# then re-extracted instead of skipped, and each revision records the version that made it.
# 3: every piece of text trafilatura keeps (tails, text under <body>), browser-like decoding,
# JSON-LD articleBody as a second candidate, and "precise" as the default HTML mode.
# 4: titles from the page's confirmed <h1> and site names stripped (host too); authors from
# JSON-LD @id references and byline elements, organisations, labels and handles dropped.
# 5: the shown text kept beside a JSON-LD articleBody (compared, and in the content hash);
# a day-first publication meta tag read.
# 6: authors from a byline stated in words ("Von …", "Written by: …", "Autorin: …", a label
# element and the name after it) where nothing else names one; a date or "http" is no name,
# an outlet's name or "Staff" after a person's is dropped, a handle gives way to the byline's
# spelled-out name; an "autor" class is a byline class, "Redaktion: …" and a date-then-name line
# ("11.12.2019 - Name") are bylines in words.
EXTRACTOR_REVISION = 6

# The HTML extraction mode when no Settings are at hand: the settings' own default, "precise"
# ("fast" truncates some articles to their lead or a menu: tests/benchmarks/bench_quality.py).
DEFAULT_EXTRACTION_MODE: str = Settings.model_fields["extraction_mode"].default

BlockKind = Literal["paragraph", "heading", "list", "quote", "table"]

WHITESPACE = re.compile(r"\s+")
# Invisible formatting characters that are not text: soft hyphens, zero-width space, word
# joiner, a stray BOM (trafilatura drops them too; "Mit\xadtel\xadal\xadter" is "Mittelalter")
INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# " date 2025-09-02 By Tal Shalev and Dana Karni, CNN"
HEADER_DATE_LINE = re.compile(
    r"^\s*date\s+(?P<date>\d{4}-\d{2}-\d{2})(?:\s+(?P<byline>[Bb]y\s+.+?))?\s*$"
)
HEADER_BYLINE_LINE = re.compile(r"^\s*(?P<byline>By\s+.+?)\s*$")
HEADER_FIELD_LINE = re.compile(
    r"^\s*(?P<key>url|title|outlet|language|published|modified|updated|authors?|byline)"
    r"\s*:\s*(?P<value>.*?)\s*$",
    re.IGNORECASE,
)
SENTENCE_END = ".!?…:;,"
CLOSING_QUOTES = "\"'’”»)]"
MAX_HEADING_WORDS = 14


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str


@dataclass(frozen=True)
class CleanedDocument:
    """Normalised article text as blocks, plus what the source said about itself."""

    blocks: tuple[Block, ...]
    header: dict[str, str] = field(default_factory=dict)  # text files: date, byline, url, …
    page: dict[str, Any] = field(default_factory=dict)  # HTML: trafilatura + htmldate fields

    @property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)


# An extraction with fewer letters/digits than this (a page of a million nested divs came out
# as an 11-character "story") is a recorded failure, not a stored story. The shortest real
# story in the fixtures is far longer; a headline-only brief still passes.
MIN_BODY_LETTERS = 20


def normalize_block(text: str) -> str:
    """NFC, invisible formatting characters dropped, every run of white space folded to one
    space, trimmed."""
    return WHITESPACE.sub(" ", INVISIBLE.sub("", unicodedata.normalize("NFC", text))).strip()


def normalize_text(text: str) -> str:
    """Normalise a whole text: NFC, white space folded inside paragraphs, breaks kept."""
    paragraphs = (normalize_block(p) for p in PARAGRAPH_BREAK.split(text.replace("\r\n", "\n")))
    return "\n\n".join(p for p in paragraphs if p)


@cache
def extractor_version(kind: str, mode: str = DEFAULT_EXTRACTION_MODE) -> str:
    """Which code produced a revision, e.g. ``html-3-precise+trafilatura-2.3.1+htmldate-1.11.0``
    (the HTML extraction mode is part of it: switching modes re-extracts, never skips)."""
    if kind == "text":
        return f"text-{EXTRACTOR_REVISION}"
    return (
        f"html-{EXTRACTOR_REVISION}-{mode}+trafilatura-{version('trafilatura')}"
        f"+htmldate-{version('htmldate')}"
    )


# --- plain text (seed format) -----------------------------------------------------------------


def split_header(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split the optional header block off the top of a text file."""
    header: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            break
        if match := HEADER_DATE_LINE.match(line):
            header["date"] = match.group("date")
            if match.group("byline"):
                header["byline"] = match.group("byline")
        elif (match := HEADER_FIELD_LINE.match(line)) and match.group("value"):
            key = match.group("key").lower()
            header[{"updated": "modified", "author": "authors"}.get(key, key)] = match.group(
                "value"
            )
        elif header and (match := HEADER_BYLINE_LINE.match(line)):
            header["byline"] = match.group("byline")
        else:
            break
        index += 1
    if not header:
        return {}, lines
    return header, lines[index:]


def looks_like_heading(text: str) -> bool:
    """A standalone short line with no sentence punctuation at its end is a section heading."""
    words = text.split()
    if not words or len(words) > MAX_HEADING_WORDS:
        return False
    stripped = text.rstrip(CLOSING_QUOTES)
    if not stripped or stripped[-1] in SENTENCE_END:
        return False
    first = text.lstrip("\"'‘“«(")[:1]
    return first.isupper() or first.isdigit()


def clean_text_document(raw: bytes, name: str = "input") -> CleanedDocument:
    text = decode_text(raw, name).lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    header, body_lines = split_header(text.split("\n"))
    paragraphs = [normalize_block(part) for part in PARAGRAPH_BREAK.split("\n".join(body_lines))]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        raise ExtractionError(f"{name}: no article text after the header")
    blocks = []
    for position, paragraph in enumerate(paragraphs):
        inner = 0 < position < len(paragraphs) - 1
        kind: BlockKind = "heading" if inner and looks_like_heading(paragraph) else "paragraph"
        blocks.append(Block(kind, paragraph))
    clean_header = {key: normalize_block(value) for key, value in header.items()}
    return CleanedDocument(tuple(blocks), header=clean_header)


# --- HTML ---------------------------------------------------------------------------------------


# trafilatura's output elements that start a block of their own, and the kind of that block
# (None: a container whose loose text takes the kind of its parent)
_BLOCK_TAGS: dict[str, BlockKind | None] = {
    "head": "heading",
    "p": "paragraph",
    "code": "paragraph",
    "div": "paragraph",
    "quote": "quote",
    "list": None,
    "item": "list",
    "table": "table",
    "row": "table",
}
# kinds that a paragraph nested inside keeps (a <p> in a quote is part of the quote)
_ENCLOSING_KINDS: frozenset[BlockKind] = frozenset({"quote", "list", "table"})


def _child_kind(tag: str, parent: BlockKind) -> BlockKind:
    kind = _BLOCK_TAGS[tag]
    if kind is None or (kind == "paragraph" and parent in _ENCLOSING_KINDS):
        return parent
    return kind


# HTML tags trafilatura sometimes leaves in its output (inside a quote or a cell): each is a
# word boundary, as a browser renders it
_SPACED_TAGS = frozenset(
    [
        "td",
        "th",
        "tr",
        "li",
        "dd",
        "dt",
        "div",
        "section",
        "article",
        "ul",
        "ol",
        "dl",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "caption",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "p",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "cell",
    ]
)


def _inline_text(element: Any) -> str:
    """The text of an inline element and everything inside it; a line break or a block nested
    in it is a space (``<hi>one<lb/>two</hi>`` is "one two", not "onetwo")."""
    pieces = [element.text or ""]
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in ("lb", "br"):
            pieces.append(" ")
        elif tag in _BLOCK_TAGS or tag in _SPACED_TAGS:
            pieces.append(f" {_inline_text(child)} ")
        elif tag:
            pieces.append(_inline_text(child))
        pieces.append(child.tail or "")
    return "".join(pieces)


def _row_text(row: Any) -> str:
    """A table row as one block: its cells joined by ``|`` (a table nested in a cell is
    flattened into the row, its cells separated the same way), and any loose text of the row."""
    pieces: list[str] = [row.text or ""]
    for cell in row:
        if isinstance(cell.tag, str):
            found: list[tuple[BlockKind, str]] = []
            _walk_blocks(cell, "table", found)
            pieces.extend(text for _kind, text in found)
        pieces.append(cell.tail or "")
    return " | ".join(text for piece in pieces if (text := normalize_block(piece)))


def _walk_blocks(element: Any, kind: BlockKind, out: list[tuple[BlockKind, str]]) -> None:
    """Every piece of text under ``element`` into blocks, in document order: block elements
    (paragraphs, headings, quotes, list items, table rows) are blocks of their own, and loose
    text (the element's own text, inline elements, the tails of its children) between them
    is a block of ``kind``. Nothing trafilatura kept is dropped, nothing is counted twice."""
    loose: list[str] = [element.text or ""]

    def flush() -> None:
        if text := normalize_block("".join(loose)):
            out.append((kind, text))
        loose.clear()

    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "row":
            flush()
            if text := _row_text(child):
                out.append(("table", text))
        elif tag in _BLOCK_TAGS:
            flush()
            _walk_blocks(child, _child_kind(tag, kind), out)
        elif tag in ("lb", "br"):
            loose.append(" ")
        elif tag in _SPACED_TAGS:
            loose.append(f" {_inline_text(child)} ")
        elif tag:  # inline markup (hi, ref, del, graphic…): its text is part of the loose text
            loose.append(_inline_text(child))
        loose.append(child.tail or "")
    flush()


def _blocks_from_body(body: Any, title: str | None) -> list[Block]:
    found: list[tuple[BlockKind, str]] = []
    _walk_blocks(body, "paragraph", found)
    blocks: list[Block] = []
    for kind, text in found:
        if kind == "heading" and not blocks and title and text == normalize_block(title):
            continue  # the title repeated as the first heading
        blocks.append(Block(kind, text))
    return blocks


# JSON-LD ``articleBody`` replaces the extracted text when the extraction has fewer than this
# share of its words (trafilatura kept a teaser, a caption or a menu). Measured on the
# development corpus: on the pages with an articleBody, articleBody alone scores worse
# (snippet F1 0.82 vs 0.88: it is often a teaser itself, or carries no headings), and where it
# is the longer one by 2x or more it holds the article the extraction missed.
ARTICLE_BODY_SHARE = 0.5


def _words(blocks: list[Block]) -> int:
    return sum(len(block.text.split()) for block in blocks)


def choose_body(extracted: list[Block], article_body: str | None) -> tuple[list[Block], str]:
    """The page's text: trafilatura's blocks, unless the page's JSON-LD ``articleBody`` has more
    than 1/ARTICLE_BODY_SHARE times as many words (then its paragraphs). Returns the blocks and
    where they came from (``extracted`` or ``structured``)."""
    if article_body:
        paragraphs = [p for p in (normalize_block(p) for p in article_body.split("\n\n")) if p]
        structured = [Block("paragraph", p) for p in paragraphs]
        if _words(extracted) < ARTICLE_BODY_SHARE * _words(structured):
            return structured, "structured"
    return extracted, "extracted"


def _letters(blocks: list[Block], enough: int) -> int:
    """Letters and digits in the blocks, counted until ``enough`` (a whole article need not
    be counted to know it passes)."""
    count = 0
    for block in blocks:
        for character in block.text:
            if character.isalnum():
                count += 1
                if count >= enough:
                    return count
    return count


def clean_html_document(
    raw: bytes,
    name: str = "input",
    url: str | None = None,
    charset: str | None = None,
    mode: str = DEFAULT_EXTRACTION_MODE,
) -> CleanedDocument:
    """Main text of an HTML page via trafilatura, dates via htmldate, on one parsed tree."""
    import htmldate
    import trafilatura
    from newsledger.tasks.structured import extract_structured
    from trafilatura.settings import Document

    tree = trafilatura.load_html(decode_html(raw, charset))
    if tree is None:
        raise ExtractionError(f"{name}: not parseable as HTML")
    language = (tree.get("lang") or tree.get("xml:lang") or "").strip() or None
    # deferred_url_extractor: a date in the (canonical) URL is the publication date; without
    # it htmldate returns that date before looking at article:modified_time and friends.
    modified = htmldate.find_date(
        tree, original_date=False, extensive_search=False, url=url, deferred_url_extractor=True
    )
    structured = extract_structured(tree)  # before trafilatura prunes the tree
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        fast=mode == "fast",
    )
    if not isinstance(document, Document):
        raise ExtractionError(f"{name}: trafilatura found no main text in the page")
    extracted = [] if document.body is None else _blocks_from_body(document.body, document.title)
    blocks, body_source = choose_body(extracted, structured.article_body)
    if not blocks:
        raise ExtractionError(f"{name}: trafilatura found no main text in the page")
    letters = _letters(blocks, MIN_BODY_LETTERS)
    if letters < MIN_BODY_LETTERS:
        raise EmptyExtractionError(
            f"{name}: the extracted body has only {letters} letters or digits (fewer than "
            f"{MIN_BODY_LETTERS}); not stored as a story"
        )
    page: dict[str, Any] = {
        "title": document.title,
        "author": document.author,
        "url": document.url,
        "hostname": document.hostname,
        "sitename": document.sitename,
        "description": document.description,
        "published": document.date,
        "modified": modified,
        "categories": list(document.categories or []),
        "tags": list(document.tags or []),
        "html_lang": language,
        "image": document.image,
        "pagetype": document.pagetype,
        "structured": structured,
        "body_source": body_source,
        "extracted_text": "\n\n".join(block.text for block in extracted),
    }
    return CleanedDocument(tuple(blocks), page=page)


def clean_document(
    document: SourceDocument, mode: str = DEFAULT_EXTRACTION_MODE
) -> CleanedDocument:
    if document.kind == "text":
        return clean_text_document(document.raw, document.source)
    return clean_html_document(
        document.raw, document.source, url=document.url, charset=document.charset, mode=mode
    )
