"""Base/variant page pairs for the change-fidelity benchmark (``bench_fidelity.py``).

A real page is parsed once with lxml (:func:`prepare_page`); its article body paragraphs are
the ``<p>`` elements whose text trafilatura's default extraction contains. Each kind in
:data:`KINDS` turns that page into a ``(base, variant)`` pair of complete HTML documents that
differ in one way only:

* noise kinds (``NOISE``) change page furniture that is not the story (whitespace and attribute
  order, an ad slot, a related-stories box, a "page generated" time, a comment counter): the
  ledger must record no revision;
* edit kinds (``EDITS``) change the story (an appended update note, a number deep in the body,
  a dropped paragraph, the headline, a word in the last paragraph): the ledger must record one.

Base and variant of a pair are serialised by the same code (UTF-8, ``<meta charset="utf-8">``),
so the only difference between them is the one the kind makes. Pure functions, no I/O.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import lxml.html
from lxml import etree

# ASCII whitespace only: U+00A0 (&nbsp;) is content, and \s would match it.
SPACES = re.compile(r"[ \t\n\r\f]+")
DIGITS = re.compile(r"\d+")
# what lxml refuses to set as text (XML 1.0 excludes these control characters)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
WORD = re.compile(r"[^\W\d_]{4,}")
VERBATIM = {"pre", "textarea", "script", "style", "code", "template", "noscript"}
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
    "basefont",
    "frame",
    "isindex",
    "keygen",
}
MIN_PARAGRAPH_CHARS = 40
MIN_PARAGRAPHS = 3

UPDATE_NOTE = (
    "Update: This story has been updated to include a statement from the ministry, which said "
    "on Tuesday evening that an independent review would be completed by the end of March."
)
HEADLINE_SUFFIX = " as investigation widens"
SITE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ", " : ")
ADS = [
    ("4711", "Save 20% on home insurance with Acme Mutual today"),
    ("5820", "Compare 2026 electric cars: book a free test drive near you"),
]
PAGE_TIMES = ("12:03", "12:07")
COMMENT_COUNTS = (12, 13)


class NotUsable(Exception):
    """The page has no body paragraphs to work with (or none this kind needs)."""


def squash(text: str) -> str:
    return SPACES.sub(" ", text).strip()


@dataclass
class Page:
    """A parsed page and where its article body is (paragraph paths, for copies)."""

    name: str
    tree: etree._ElementTree
    paragraphs: list[str]  # getpath() of each body <p>, in document order
    headline: str | None
    related_titles: tuple[list[str], list[str]]  # base and variant titles of a related box

    def copy(self) -> tuple[etree._ElementTree, list[etree._Element]]:
        tree = copy.deepcopy(self.tree)
        return tree, [tree.xpath(path)[0] for path in self.paragraphs]


def decode(raw: bytes) -> str:
    """Decode as trafilatura does (UTF-8 first, then detected encodings)."""
    from trafilatura.utils import decode_file

    text = decode_file(raw)
    return text if isinstance(text, str) else text.decode("utf-8", "replace")


def parse(raw: bytes) -> etree._ElementTree:
    text = decode(raw)
    # lxml refuses str input that declares an encoding in an XML declaration.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as an HTML parser does
    root = lxml.html.document_fromstring(text)
    return root.getroottree()


def serialise(tree: etree._ElementTree) -> bytes:
    """UTF-8 bytes with exactly one ``<meta charset="utf-8">`` (old declarations removed)."""
    root = tree.getroot()
    for meta in root.xpath("//meta[@charset] | //meta[@http-equiv]"):
        if meta.get("charset") is not None or meta.get("http-equiv", "").lower() == "content-type":
            meta.drop_tree()
    heads = root.xpath("//head")
    head = heads[0] if heads else None
    if head is None:
        head = etree.Element("head")
        root.insert(0, head)
    meta = etree.Element("meta", charset="utf-8")
    meta.tail = head.text  # so that serialise(parse(serialise(x))) == serialise(x)
    head.text = None
    head.insert(0, meta)
    for element in root.iter():
        # libxml2 writes an empty <li>, <dt>… without its end tag, and a second parse then
        # nests what follows inside it: an empty text keeps the end tag (and the page's DOM)
        empty = not element.text and len(element) == 0
        if empty and isinstance(element.tag, str) and element.tag not in VOID:
            element.text = ""
    doctype = tree.docinfo.doctype or "<!DOCTYPE html>"
    html = lxml.html.tostring(root, encoding="unicode", doctype=doctype)
    return html.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")


# A paragraph that is a link to another story ("Read more: …", "Lesen Sie auch: …") is a
# related-stories line, page noise by the issue's own definition, not the article's text.
RELATED_LINE = re.compile(
    r"^\s*(?:read more|read also|related|see also|more on this|lesen sie (?:auch|mehr)|"
    r"mehr zum thema|auch interessant|lire aussi|à lire aussi|leer más|lee también)\b",
    re.I,
)


def body_paragraphs(tree: etree._ElementTree, extracted: str) -> list[etree._Element]:
    """The ``<p>`` elements whose whole text is in ``extracted`` (trafilatura's output) and
    occurs once in the page (an edit of one copy of a repeated paragraph, e.g. in a teaser or
    a print version, can go unseen by any extractor that reads the other copy), except
    related-story lines (:data:`RELATED_LINE`)."""
    haystack = squash(extracted)
    found: list[etree._Element] = []
    texts = [squash(element.text_content()) for element in tree.getroot().iter("p")]
    page_text = squash(tree.getroot().text_content())
    for element, text in zip(tree.getroot().iter("p"), texts, strict=True):
        if texts.count(text) > 1 or page_text.count(text) > 1:
            continue
        if RELATED_LINE.match(text):
            continue
        if len(text) >= MIN_PARAGRAPH_CHARS and text in haystack:
            if any(p in element.iterancestors() for p in found):
                continue
            found.append(element)
    return found


def headline_of(tree: etree._ElementTree) -> str | None:
    root = tree.getroot()
    for query in ("//h1", "//meta[@property='og:title']/@content", "//title"):
        for hit in root.xpath(query):
            text = squash(hit if isinstance(hit, str) else hit.text_content())
            if text:
                return text
    return None


@dataclass(frozen=True)
class PageSpec:
    """What :func:`locate` found on a page, small enough to send to a worker process."""

    name: str  # a short unique file name for the pair ("<n>-<stem>.html")
    source: str  # the corpus file it came from
    label: str  # the same, relative to its corpus folder (for reports)
    paragraphs: tuple[str, ...]
    headline: str | None
    related_titles: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    reference: str = ""  # trafilatura's default output for the normalised page


def normalise(raw: bytes) -> bytes:
    """A corpus page as every base and variant is written (see :func:`serialise`): paragraphs
    are located, and trafilatura's reference output is taken, on exactly these bytes."""
    return serialise(parse(raw))


def locate(name: str, source: str, label: str, page: bytes, extracted: str) -> PageSpec:
    """Find the body paragraphs of a normalised page (``extracted``: trafilatura's default
    output for it; :class:`NotUsable` when there are too few)."""
    tree = parse(page)
    paragraphs = body_paragraphs(tree, extracted)
    if len(paragraphs) < MIN_PARAGRAPHS:
        raise NotUsable(f"fewer than {MIN_PARAGRAPHS} body paragraphs found")
    paths = tuple(tree.getpath(p) for p in paragraphs)
    return PageSpec(name, source, label, paths, headline_of(tree))


def load_page(spec: PageSpec, page: bytes) -> Page:
    """The page of ``spec`` from its normalised bytes."""
    tree = parse(page)
    return Page(
        spec.name,
        tree,
        list(spec.paragraphs),
        spec.headline,
        (list(spec.related_titles[0]), list(spec.related_titles[1])),
    )


# --------------------------------------------------------------------------- text-node helpers


def text_slots(element: etree._Element) -> list[tuple[etree._Element, str]]:
    """(node, "text"|"tail") for every text node inside ``element`` in reading order."""
    slots: list[tuple[etree._Element, str]] = []

    def walk(node: etree._Element) -> None:
        if isinstance(node.tag, str):
            slots.append((node, "text"))
            for child in node:
                walk(child)
                slots.append((child, "tail"))

    walk(element)
    return [(n, w) for n, w in slots if getattr(n, w)]


def get_slot(node: etree._Element, where: str) -> str:
    return getattr(node, where) or ""


def set_slot(node: etree._Element, where: str, value: str) -> None:
    setattr(node, where, value)


def fragment(html: str) -> etree._Element:
    return lxml.html.fragment_fromstring(html)


def insert_after(anchor: etree._Element, new: etree._Element) -> None:
    new.tail = anchor.tail  # keep the surrounding whitespace as it was
    anchor.tail = "\n"
    anchor.addnext(new)


def insert_before(anchor: etree._Element, new: etree._Element) -> None:
    new.tail = "\n"
    anchor.addprevious(new)


def body_of(tree: etree._ElementTree) -> etree._Element:
    bodies = tree.getroot().xpath("//body")
    if not bodies:
        raise NotUsable("no <body>")
    body: etree._Element = bodies[0]
    return body


# --------------------------------------------------------------------------- noise kinds

Pair = tuple[bytes, bytes]


def reflow(page: Page, rng: random.Random) -> Pair:
    """Whitespace between tags re-indented, long text lines wrapped, attribute order reversed:
    the same DOM as a browser renders it."""
    base, _ = page.copy()
    variant, _ = page.copy()
    width = rng.choice((60, 72, 80))

    def wrap(text: str, indent: str) -> str:
        if not text.strip():
            return "\n" + indent if "\n" in text or len(text) > 1 else text
        words = SPACES.split(text)
        lead = "\n" + indent if SPACES.match(text) else ""
        trail = "\n" + indent if SPACES.fullmatch(text[-1:]) else ""
        lines, line = [], ""
        for word in (w for w in words if w):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        return lead + ("\n" + indent).join(lines) + trail

    def walk(node: etree._Element, depth: int) -> None:
        indent = "  " * depth
        if isinstance(node.tag, str):
            items = list(node.attrib.items())
            node.attrib.clear()
            for key, value in reversed(items):
                node.set(key, value)
            if node.tag in VERBATIM:
                return
            # a text with a control character (U+001D in a real page) that lxml parsed but
            # will not set stays as it was: a failed assignment empties the node, which
            # dropped a paragraph from the "same" page
            if node.text and not NOT_XML.search(node.text):
                node.text = wrap(node.text, indent + "  ")
            for child in node:
                walk(child, depth + 1)
                if child.tail and not NOT_XML.search(child.tail):
                    child.tail = wrap(child.tail, indent)

    walk(variant.getroot(), 0)
    return serialise(base), serialise(variant)


def _with_slot(
    page: Page, build: Callable[[etree._ElementTree, list[etree._Element], int], None]
) -> Pair:
    out = []
    for version in (0, 1):
        tree, paragraphs = page.copy()
        build(tree, paragraphs, version)
        out.append(serialise(tree))
    return out[0], out[1]


def ad_slot(page: Page, rng: random.Random) -> Pair:
    """An ad slot between two body paragraphs whose creative rotates."""

    def build(tree: etree._ElementTree, paragraphs: list[etree._Element], version: int) -> None:
        ad_id, line = ADS[version]
        ad = fragment(
            f'<div class="ad ad-slot" data-ad-id="{ad_id}"><span class="ad-label">'
            f'Advertisement</span> <a href="https://ads.example.com/c/{ad_id}">{line}</a></div>'
        )
        insert_after(paragraphs[len(paragraphs) // 2 - 1], ad)

    return _with_slot(page, build)


def related_box(page: Page, rng: random.Random) -> Pair:
    """A "related stories" box after the last body paragraph with other link titles."""

    def build(tree: etree._ElementTree, paragraphs: list[etree._Element], version: int) -> None:
        items = "".join(
            f'<li><a href="/news/related-{version}-{i}.html">{escape(t)}</a></li>'
            for i, t in enumerate(page.related_titles[version])
        )
        box = fragment(
            '<aside class="related-stories"><h3>Related stories</h3>'
            f'<ul class="related">{items}</ul></aside>'
        )
        insert_after(paragraphs[-1], box)

    return _with_slot(page, build)


def page_time(page: Page, rng: random.Random) -> Pair:
    """ "Page generated 12:03" in the page header and footer, later 12:07."""

    def build(tree: etree._ElementTree, paragraphs: list[etree._Element], version: int) -> None:
        body = body_of(tree)
        stamp = PAGE_TIMES[version]
        header = fragment(f'<div class="page-info">Page generated {stamp}</div>')
        header.tail = body.text
        body.text = "\n"
        body.insert(0, header)
        footer = fragment(f'<p class="page-generated">Page generated {stamp} UTC</p>')
        footer.tail = "\n"
        body.append(footer)

    return _with_slot(page, build)


def comment_count(page: Page, rng: random.Random) -> Pair:
    """A comment counter just before the first body paragraph: 12 comments, then 13."""

    def build(tree: etree._ElementTree, paragraphs: list[etree._Element], version: int) -> None:
        count = COMMENT_COUNTS[version]
        counter = fragment(
            f'<div class="comment-count"><a href="#comments">{count} comments</a></div>'
        )
        insert_before(paragraphs[0], counter)

    return _with_slot(page, build)


# --------------------------------------------------------------------------- edit kinds


def _edited(page: Page, edit: Callable[[etree._ElementTree, list[etree._Element]], None]) -> Pair:
    base, _ = page.copy()
    variant, paragraphs = page.copy()
    edit(variant, paragraphs)
    return serialise(base), serialise(variant)


def update_note(page: Page, rng: random.Random) -> Pair:
    """An update note appended after the last body paragraph."""

    def edit(tree: etree._ElementTree, paragraphs: list[etree._Element]) -> None:
        last = paragraphs[-1]
        note = etree.Element(last.tag)
        note.text = UPDATE_NOTE
        insert_after(last, note)

    return _edited(page, edit)


def changed_number(page: Page, rng: random.Random) -> Pair:
    """A number changed in a body paragraph deep in the article (never the lead): the deepest
    paragraph with digits, its last number + 1 (same length where it can be)."""

    def edit(tree: etree._ElementTree, paragraphs: list[etree._Element]) -> None:
        for paragraph in reversed(paragraphs[1:]):
            slots = [s for s in text_slots(paragraph) if DIGITS.search(get_slot(*s))]
            if slots:
                node, where = slots[-1]
                text = get_slot(node, where)
                match = list(DIGITS.finditer(text))[-1]
                number = match.group()
                new = str(int(number) + 1)
                if len(new) > len(number):
                    new = str(int(number) - 1) if int(number) > 0 else "1"
                new = new.zfill(len(number))
                set_slot(node, where, text[: match.start()] + new + text[match.end() :])
                return
        raise NotUsable("no number in a body paragraph after the lead")

    return _edited(page, edit)


def dropped_paragraph(page: Page, rng: random.Random) -> Pair:
    """The middle or the last body paragraph removed (its tail text kept)."""

    def edit(tree: etree._ElementTree, paragraphs: list[etree._Element]) -> None:
        index = len(paragraphs) // 2 if rng.random() < 0.5 else len(paragraphs) - 1
        paragraphs[index].drop_tree()

    return _edited(page, edit)


TITLE_META = (
    "//meta[@property='og:title' or @name='og:title' or @name='twitter:title'"
    " or @property='twitter:title' or @name='title' or translate(@name, 'DCTILE', 'dctile')"
    " = 'dc.title' or @itemprop='headline']"
)


HEADINGS = "//h1 | //h2 | //h3"
_QUOTES = str.maketrans(
    {c: "'" for c in "\u2018\u2019\u201a\u201b\u2032`\u00b4"}
    | {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"}
)
_DASHES = re.compile(
    "[\u2010-\u2015\u2212]"
)  # "Bag – Title" in the <h1>, "Bag - Title" in og:title
HOST_LIKE = re.compile(r"^(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}$", re.I)


def heading_key(text: str) -> str:
    """A title as compared across fields: NFKC, ASCII quotes, case and white space folded
    (og:title may write ' where the <h1> writes ’)."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return squash(_DASHES.sub("-", folded)).casefold()


def title_parts(title: str) -> list[str]:
    """A title field and its parts at site-name separators ("Headline | Site", "Site |
    Headline", "Headline ‹ Site")."""
    parts = [title]
    for separator in (*SITE_SEPARATORS, " ‹ ", " › ", " « ", " » "):
        parts += [p.strip() for p in title.split(separator) if p.strip() and separator in title]
    return parts


def headline_elements(root: etree._Element) -> list[etree._Element]:
    """The page's shown headline: the ``<h1>``/``<h2>``/``<h3>`` elements whose text the
    page's own title fields state, whole (og:title = the ``<h1>``) or as the headline part of
    a "Headline | Site" title (or inside a longer one, on word boundaries; dashes and quotes
    folded), never the site's name (an ``<h1>`` "example.com" or the og:site_name that a
    "Headline | example.com" title also holds). Whole matches first,
    ``<h1>`` before ``<h2>``/``<h3>``; the longest text wins. Every heading with that text is
    the headline (a page may repeat it). None: the page states no headline that it shows
    (a portal's "Startseite: …" title over section names), so no headline edit is made."""
    stated = [squash(m.get("content", "")) for m in root.xpath(TITLE_META)]
    stated += [squash(t.text_content()) for t in root.xpath("//head/title | /html/title")]
    stated += _json_headlines(root)
    stated = [t for t in stated if t]
    sites = {
        heading_key(m.get("content", ""))
        for m in root.xpath(
            "//meta[@property='og:site_name' or @name='application-name' or @name='og:site_name']"
        )
    }
    whole = {heading_key(t) for t in stated}
    parts = {heading_key(p) for t in stated for p in title_parts(t)}
    best: tuple[int, int, int] | None = None
    chosen = ""
    for element in root.xpath(HEADINGS):
        text = squash(element.text_content())
        key = heading_key(text)
        if not key or key in sites or HOST_LIKE.match(text):
            continue
        inside = key in parts or any(f" {key} " in f" {field} " for field in whole)
        rank = (2 if key in whole else 1 if inside else 0, element.tag == "h1", len(key))
        if rank[0] and (best is None or rank > best):
            best, chosen = rank, key
    if not chosen:
        return []
    return [e for e in root.xpath(HEADINGS) if heading_key(e.text_content()) == chosen]


def _json_headlines(root: etree._Element) -> list[str]:
    found: list[str] = []

    def walk(data: object) -> None:
        if isinstance(data, dict):
            for key, value in data.items():
                if key == "headline" and isinstance(value, str):
                    found.append(squash(value))
                else:
                    walk(value)
        elif isinstance(data, list):
            for value in data:
                walk(value)

    for script in root.xpath("//script[@type='application/ld+json']"):
        with contextlib.suppress(ValueError):
            walk(json.loads(script.text or ""))
    return found


def new_headline(page: Page, rng: random.Random) -> Pair:
    """The headline changed everywhere the page states it: the heading elements that show it
    (:func:`headline_elements`), ``<title>`` (not the site name beside it),
    ``itemprop=headline``, og:/twitter:/dc. titles, ``<meta name=title>`` and JSON-LD
    ``headline``. A page that shows no headline its title fields name is not used."""
    if not page.headline:
        raise NotUsable("no headline")
    shown = headline_elements(page.tree.getroot())
    if not shown:
        raise NotUsable("no shown headline that the title fields name")
    candidates = [squash(shown[0].text_content())]
    paths = [page.tree.getpath(e) for e in shown]

    def changed(text: str) -> str:
        """The headline inside ``text`` (a title with the site name, say) gets the suffix."""
        for old in candidates:
            if old in text:
                return text.replace(old, old + HEADLINE_SUFFIX, 1)
            # the same headline in other quotes or dashes: its span in the field
            key, folded = heading_key(old), heading_key(text)
            if len(folded) == len(text) and key in folded:
                end = folded.index(key) + len(key)
                return text[:end] + HEADLINE_SUFFIX + text[end:]
        cut = max(text.rfind(separator) for separator in SITE_SEPARATORS)
        if cut > 0:  # "Headline | Site": the headline part changes, not the site name
            return text[:cut] + HEADLINE_SUFFIX + text[cut:]
        return text + HEADLINE_SUFFIX

    def edit(tree: etree._ElementTree, paragraphs: list[etree._Element]) -> None:
        root = tree.getroot()
        for title in root.xpath("//head/title | /html/title")[:1]:
            title.text = changed(squash(title.text_content()))
            for child in list(title):
                child.drop_tree()
        for meta in root.xpath(TITLE_META):
            if meta.tag == "meta" or meta.get("content") is not None:
                meta.set("content", changed(squash(meta.get("content", ""))))
        headings = [tree.xpath(path)[0] for path in paths]
        headings += [
            h
            for h in root.xpath("//*[@itemprop='headline'][not(self::meta)]")
            if h not in headings and not any(a in headings for a in h.iterancestors())
        ]
        for heading in headings:
            slots = [s for s in text_slots(heading) if get_slot(*s).strip()]
            if slots:
                node, where = slots[-1]
                text = get_slot(node, where)
                stripped = text.rstrip()
                set_slot(node, where, stripped + HEADLINE_SUFFIX + text[len(stripped) :])
        for script in root.xpath("//script[@type='application/ld+json']"):
            try:
                data = json.loads(script.text or "")
            except ValueError:
                continue
            if _add_suffix(data):
                script.text = json.dumps(data, ensure_ascii=False)

    return _edited(page, edit)


def _add_suffix(data: object) -> bool:
    touched = False
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("headline", "alternativeHeadline") and isinstance(value, str):
                data[key] = value + HEADLINE_SUFFIX
                touched = True
            else:
                touched |= _add_suffix(value)
    elif isinstance(data, list):
        for value in data:
            touched |= _add_suffix(value)
    return touched


def changed_word(page: Page, rng: random.Random) -> Pair:
    """One word of the last body paragraph replaced by another word of that paragraph (so the
    language stays the same); reversed if the paragraph has no other word."""

    def edit(tree: etree._ElementTree, paragraphs: list[etree._Element]) -> None:
        last = paragraphs[-1]
        hits = [
            (node, where, match)
            for node, where in text_slots(last)
            for match in WORD.finditer(get_slot(node, where))
        ]
        if not hits:
            raise NotUsable("no word in the last body paragraph")
        node, where, match = hits[len(hits) // 2]
        word = match.group()
        others = sorted({m.group() for _n, _w, m in hits if m.group().lower() != word.lower()})
        new = rng.choice(others) if others else word[::-1]
        if new == word:
            new = word + "s"
        text = get_slot(node, where)
        set_slot(node, where, text[: match.start()] + new + text[match.end() :])

    return _edited(page, edit)


Kind = Callable[[Page, random.Random], Pair]
NOISE: dict[str, Kind] = {
    "reflow": reflow,
    "ad_slot": ad_slot,
    "related_box": related_box,
    "page_time": page_time,
    "comment_count": comment_count,
}
EDITS: dict[str, Kind] = {
    "update_note": update_note,
    "changed_number": changed_number,
    "dropped_paragraph": dropped_paragraph,
    "new_headline": new_headline,
    "changed_word": changed_word,
}
KINDS: dict[str, Kind] = {**NOISE, **EDITS}
