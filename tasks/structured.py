"""What a page says about itself: JSON-LD (``@graph``, arrays, nested), OpenGraph / ``article:*``
meta and ``<meta name=author>``, read from an lxml tree into a typed :class:`StructuredData`.

A focused parser on the tree trafilatura already built (no second parse, as ``extruct`` would
need); malformed JSON-LD is skipped, never fails a page.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

ARTICLE_TYPES = {
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "article",
    "blogposting",
    "liveblogposting",
    "scholarlyarticle",
    "techarticle",
    "report",
}
ORGANISATION_TYPES = {"organization", "newsmediaorganization", "corporation", "organisation"}
PREFIXES = re.compile(
    r"^\s*(?:(?:view|see|more|show)\s+(?:all\s+)?(?:posts|articles|stories)\s+)?"
    r"(?:(?:zeige|alle)\s+(?:alle\s+)?(?:beiträge|artikel)\s+)?"
    r"(?:zum\s+profil\s+|(?:ein\s+)?(?:beitrag|artikel|gastbeitrag)\s+)?"
    r"(?:(?:written|reported|reporting|words|text|story|photos?|posted|published|"
    r"geschrieben|verfasst|veröffentlicht|interview)\s+)?"
    r"(?:by|von|vom|par|por|di|door|av|af|autor(?:in)?|auteur|author|text|texto|napsal[a]?|"
    r"interview|fotos?|photos?)"
    r"\s*[:\-]?\s+",
    re.I,
)
# Words a byline field holds that name no one ("Posted by", a form label, a placeholder)
NOT_NAMES = {
    "staff",
    "redaktion",
    "editor",
    "editors",
    "name",
    "datum",
    "date",
    "follow",
    "posted",
    "no author",
    "author",
    "autor",
    "anonymous",
    "unknown",
    "admin",
    "guest",
    "text",
    "phd",
    "http",
    "https",
}
# a date where a name should be ("lundi 9 décembre 2019 à 09h08", "On August 3")
DATE_IN_NAME = re.compile(
    r"\b(?:19|20)\d{2}\b|\b\d{1,2}[h:]\d{2}\b|^(?:on|am|le|el)\s+\S+\s+\d{1,2}\b", re.I
)
# Legal forms: a name ending in one is an organisation, not a person
ORGANISATION_NAME = re.compile(
    r"(?:\b(?:gmbh|ag|se|kg|ltd|llc|inc|plc|corp|s\.?a|e\.\s?v|gbr|ug)\.?|\.(?:com|de|net|org|at|ch|"
    r"it|fr|co\.uk|io|tn)|\s(?:de|at|ch|com|net|org)|\se\.?\s?v\.?)\s*$|^(?:www\.)",
    re.I,
)
SUFFIXES = re.compile(
    r"\s+(?:says|said|writes|wrote|reports|stand|shares?|staff(?:\s+(?:writer|reporter))?|"
    r"(?:tiempo de lectura|lesezeit|"
    r"reading time|min(?:\.|utes?)? read)\b.*)\s*$",
    re.I,
)
SEPARATORS = re.compile(
    r"\s*(?:;|,|\||/|&|\s[-–—]\s|\band\b|\bund\b|\bet\b|\b[yeai]\b(?!\.)|\bog\b|\ben\b|"
    r"\boch\b|\bim\s+gespräch\s+mit\b)\s*",
    re.I,
)
EMAIL_OR_URL = re.compile(r"\S+(?:@|\[at\])\S+|https?://\S+|www\.\S+", re.I)
TITLE_SEPARATORS = r"\s+[-–—|:·•»/]\s+|\s+[|]\s*"


@dataclass(frozen=True)
class StructuredData:
    headline: str | None = None
    og_title: str | None = None
    h1: str | None = None
    h1s: tuple[str, ...] = ()  # the page's first few <h1> texts, in order
    html_title: str | None = None  # the page's <title>
    authors: tuple[str, ...] = ()
    outlet: str | None = None
    site_name: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    canonical_url: str | None = None
    section: str | None = None
    language: str | None = None
    article_body: str | None = None
    organisations: tuple[str, ...] = field(default=())
    host: str | None = None
    byline_authors: tuple[str, ...] = ()
    # a byline stated in words ("Von Klaus Stanjek"), where nothing else names an author
    text_byline_authors: tuple[str, ...] = ()
    # a publication date a meta tag states day first (``18.10.2019 17:08``): htmldate reads
    # none of these, and takes another date of the page instead
    meta_published: datetime | None = None


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 date-time with its offset (``2024-05-01T10:00:00+02:00``, ``…Z``), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# Meta names of a publication time, '-' and '_' alike (``vr:published-time``,
# ``article:published_time``, ``publish-date``, ``pubdate``)
PUBLISHED_META = re.compile(r"(?:^|[:._])(?:published|publication|publish|pub)_?(?:time|date)$")
DAY_FIRST = re.compile(
    r"^(?:[^\W\d_]{2,3}\.?,?\s+)?(\d{1,2})\.(\d{1,2})\.(\d{4})"
    r"(?:\s*[,-]?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?(?:\s*uhr)?$",
    re.I,
)


def day_first_published(meta: dict[str, str]) -> datetime | None:
    """The first publication-time meta tag stated day first (``27.04.2020 18:50``,
    ``Di., 25.01.2022 - 14:45``), as a naive date-time (the page states no offset)."""
    for key, value in meta.items():
        if not PUBLISHED_META.search(key.replace("-", "_")):
            continue
        if match := DAY_FIRST.match(value.strip()):
            day, month, year, hour, minute, second = match.groups()
            try:
                return datetime(
                    int(year),
                    int(month),
                    int(day),
                    int(hour or 0),
                    int(minute or 0),
                    int(second or 0),
                )
            except ValueError:
                continue
    return None


def _walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, list):
        for item in node:
            found.extend(_walk(item))
    elif isinstance(node, dict):
        found.append(node)
        if "@graph" in node:
            found.extend(_walk(node["@graph"]))
        for key in ("mainEntity", "mainEntityOfPage", "itemListElement"):
            if isinstance(node.get(key), (dict, list)):
                found.extend(_walk(node[key]))
    return found


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type", [])
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).lower() for k in kinds}


def _is_organisation(node: dict[str, Any]) -> bool:
    """An Organization node that is not also a Person (a personal blog's Yoast graph types its
    owner ``["Person", "Organization"]``)."""
    kinds = _types(node)
    return bool(kinds & ORGANISATION_TYPES) and "person" not in kinds


ARTICLE_BODY_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|h[1-6]|li|blockquote|tr)\s*>", re.I)
MARKUP = re.compile(r"<[^>]{0,2000}>")
LINE_BREAKS = re.compile(r"\s*\n\s*")


def body_text(value: Any) -> str | None:
    """``articleBody`` as paragraphs (one per line of the value), white space folded inside a
    paragraph; the HTML some sites put in it (``<p>``, ``<br>``, entities) is read as text."""
    if isinstance(value, list):
        value = "\n".join(v for v in value if isinstance(v, str))
    if not isinstance(value, str) or not value.strip():
        return None
    if "<" in value:
        value = MARKUP.sub(" ", ARTICLE_BODY_BREAKS.sub("\n", value))
    if "&" in value:
        value = html.unescape(value)
    lines = (" ".join(line.split()) for line in LINE_BREAKS.split(value))
    return "\n\n".join(line for line in lines if line) or None


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("url") or value.get("@id")
    if isinstance(value, str) and value.strip():
        return " ".join(html.unescape(value).split())
    return None


def clean_author(name: str) -> str | None:
    """``"By Art Edwards"``, ``"Autor Monika Bolliger"``, ``"Art Edwards says"`` → the name."""
    name = EMAIL_OR_URL.sub("", name)
    name = re.sub(r"(?:^|\s)@\w+", "", name)  # a social-media handle beside the name
    name = re.sub(r"\(.*?(?:\)|$)", "", name)  # "(Reuters)", and an unclosed "Deutsche Welle ("
    name = PREFIXES.sub("", " ".join(name.split()) + " ")
    name = SUFFIXES.sub("", name).strip(" .,:;-–—|")
    if name.startswith("@"):  # a social-media handle, not a name
        return None
    if not name or not re.search(r"[^\W\d_]", name) or len(name.split()) > 6:
        return None
    if name.casefold() in NOT_NAMES or ORGANISATION_NAME.search(name):
        return None
    if DATE_IN_NAME.search(name):
        return None
    return name


LIST_SEPARATORS = re.compile(r"\s*(?:;|,|\||/)\s*")


def split_names(text: str) -> list[str]:
    """``"A, B and C"``, ``"A und B"``, ``"A & B"``, ``"A y B"``, ``"A / B"`` → the names; a
    piece naming an organisation (``"… GmbH"``, ``"… e. V."``, a domain) is left out whole."""
    names: list[str] = []
    for piece in LIST_SEPARATORS.split(PREFIXES.sub("", text or "")):
        if ORGANISATION_NAME.search(piece.strip(" .")):
            continue
        for part in SEPARATORS.split(piece):
            if name := clean_author(part):
                names.append(name)
    return names


def _squash(name: str) -> str:
    """A name with case, accents kept, and everything but letters and digits dropped, so that
    "Auto-Motor", "auto-motor.at" (less its TLD) and "AUTO MOTOR" compare equal."""
    key = re.sub(r"^(?:https?://)?(?:www\.)?", "", name.strip().casefold())
    key = re.sub(r"\.(?:[a-z]{2,3}|co\.uk|com\.[a-z]{2})/?$", "", key)
    return re.sub(r"[\W_]+", "", key)


def author_list(values: list[str], outlets: set[str], hosts: set[str] | None = None) -> list[str]:
    """Clean, split, drop outlets/organisations, keep order, no duplicates (case-insensitive).

    A name equal to an outlet (or one part of a site name like ``"Tagline | Outlet"``) is
    dropped; a one-word name equal to the page's host (``"Auto-Motor"`` on auto-motor.at) too,
    while a person's name that is also their blog's domain (``wolfgangmichal.de``) stays."""
    folded_outlets = {_squash(o) for o in outlets if o}
    for outlet in outlets:  # "Headline tagline | Die FURCHE": each part may be the outlet
        folded_outlets |= {_squash(p) for p in re.split(TITLE_SEPARATORS, outlet or "")}
    folded_outlets |= {re.sub(r"[\W_]+", "", o.casefold()) for o in outlets if o}
    folded_outlets.discard("")
    folded_hosts = {_squash(h) for h in hosts or () if h} | {
        re.sub(r"[\W_]+", "", h.casefold()) for h in hosts or () if h
    }

    def is_outlet(name: str) -> bool:
        key = _squash(name)
        return key in folded_outlets or (" " not in name.strip() and key in folded_hosts)

    def without_outlet(name: str) -> str:
        """ "Adam Aaronson PhillyVoice" → "Adam Aaronson": an outlet's name after the person's."""
        words = name.split()
        for cut in range(len(words) - 1, 1, -1):
            if is_outlet(" ".join(words[cut:])) and len(words[cut:]) <= 3:
                return " ".join(words[:cut])
        return name

    result: list[str] = []
    for value in values:
        if is_outlet(value):
            continue
        for name in split_names(value):
            if is_outlet(name):
                continue
            name = without_outlet(name)
            key = name.casefold()
            if key not in {r.casefold() for r in result}:
                result.append(name)
    return result


def strip_site_name(title: str, names: list[str]) -> str:
    """Drop a site-name prefix or suffix (``"Headline - National | Globalnews.ca"``)."""
    title = " ".join(title.split())
    folded = [n.casefold() for n in names if n]
    parts = re.split(TITLE_SEPARATORS, title)
    if len(parts) < 2:
        return title

    def is_site(part: str) -> bool:
        key = part.casefold().strip()
        bare = re.sub(r"^www\.|\.[a-z]{2,4}$", "", key)
        return any(key == n or bare == n or n.startswith(key) or key in n for n in folded)

    while len(parts) > 1 and is_site(parts[-1]):
        parts.pop()
    while len(parts) > 1 and is_site(parts[0]):
        parts.pop(0)
    if len(parts) == 1:
        return parts[0].strip()
    # separators are lost in the split: cut the original at the kept span
    start = title.find(parts[0])
    end = title.rfind(parts[-1]) + len(parts[-1])
    return title[start:end].strip()


BYLINE_CLASS = re.compile(r"author|autor|byline", re.I)
# an author's box, photo, biography or a comment's author: not the byline of the article
NOT_BYLINE_CLASS = re.compile(
    r"comment|avatar|bio\b|box|info|image|img|photo|note|date|widget|count|teaser|slider|"
    r"follow|desc|about|social|form|profile|related|share|prep",
    re.I,
)
NOT_BYLINE_TAGS = {
    "input",
    "textarea",
    "meta",
    "link",
    "img",
    "script",
    "style",
    "form",
    "body",
    "html",
    "article",
    "section",
    "main",
    "time",
    "select",
    "button",
    "symbol",
    "svg",
}
COMMENTS = re.compile(r"comment|respond|reply|author-?box|bio\b", re.I)
BYLINE_AFTER_WORD = re.compile(r"(?:^|\s)(?:by|von|par|por|door|di)\s+([^·|•\n,(]+)", re.I)
MAX_BYLINE_CHARS = 80
# a date or time after the name, or a byline that is only a date label ("Stand: 20. April")
BYLINE_DATE = re.compile(
    r"\s*(?:\b(?:am|on|le|el|il|den|vom)\s+|[»·|•,]\s*)?\d{1,4}[./:-]\s*\d{0,2}|"
    r",?\s*\b(?:mo|di|mi|do|fr|sa|so|mon|tue|wed|thu|fri|sat|sun|lun|mer|jeu|ven|sam|dim)"
    r"\.?,?\s+\d.*|"
    r"\s*\b(?:stand|zuletzt|updated|aktualisiert|published|veröffentlicht|posted|publiziert|"
    r"publicado|publié|pubblicato)\b.*",
    re.I,
)


# the only elements _byline_like can accept: a class, an id, an itemprop or a rel
BYLINE_MARKED = "//*[@class or @id or @itemprop or @rel]"


def _byline_like(element: Any) -> bool:
    tag = element.tag if isinstance(element.tag, str) else ""
    if not tag or tag.lower() in NOT_BYLINE_TAGS:
        return False
    if tag.lower() == "a" and (element.get("rel") or "").lower() == "author":
        return True
    marks = (
        f"{element.get('class') or ''} {element.get('id') or ''} {element.get('itemprop') or ''}"
    )
    return bool(BYLINE_CLASS.search(marks)) and not NOT_BYLINE_CLASS.search(marks)


def byline_names(tree: Any) -> list[str]:
    """The names in the page's first byline element (class or id with *author* / *byline*,
    ``itemprop=author``, ``<a rel=author>``), outside comments and author boxes: the innermost
    such element, its text without "By"/"Von"/"Posted on … by"."""
    # one pass over the elements that carry a mark at all (document order), then the
    # innermost of them: no other byline element below it
    candidates = [e for e in tree.xpath(BYLINE_MARKED) if _byline_like(e)]
    outer = {id(a) for e in candidates for a in e.iterancestors()}
    for element in candidates:
        if id(element) in outer:
            continue  # the innermost byline element holds the name alone
        if any(
            COMMENTS.search(f"{a.get('class') or ''} {a.get('id') or ''}")
            for a in element.iterancestors()
        ):
            continue
        text = " ".join(" ".join(element.itertext()).split())
        if not text or len(text) > MAX_BYLINE_CHARS:
            continue
        if len(text.split()) > 4 and (match := BYLINE_AFTER_WORD.search(text)):
            text = match.group(1)
        text = BYLINE_DATE.split(text, maxsplit=1)[0]  # "Jörn Mecher am 08.12.2022"
        text = text.strip(" ·|•-–—,")
        if names := split_names(text):
            return names
    return []


# A short element that is a byline by its words, whatever its class: "Von Klaus Stanjek",
# "Written by: Julie Mollins", "Ein Artikel von Pamela Sladky | 27.01.2022", "Autorin: …"
TEXT_BYLINE = re.compile(
    r"^(?:(?:ein\s+)?(?:artikel|beitrag|text)\s+von|(?:written|reported|posted)\s+by|"
    r"by|von|par|por|door|autor(?:in|en)?|author|verfasser(?:in)?|text|redaktion\s*:)"
    r"\s*:?\s+(?P<names>.+)$",
    re.I,
)
# a date, then the name: "11.12.2019 - Amelie L.", "04.02.2022 | 13:10 Uhr | Uta H.",
# "06.11.2023 13:30 von Olga"
DATE_THEN_NAME = re.compile(
    r"^\d{1,2}\.\s?\d{1,2}\.\s?\d{4}(?:\s*[,|]?\s*\d{1,2}:\d{2}(?:\s*uhr)?)?"
    r"\s*(?:[-–—|·•]\s*(?:von\s+|by\s+)?|von\s+|by\s+)(?P<names>[^\d|]+)$",
    re.I,
)
# a label element followed by the name ("<h5>Autor:</h5>Peter Maahn", "<b>Von:</b> Götz W.")
BYLINE_LABEL = re.compile(
    r"^(?:autor(?:in|en)?|author|verfasser(?:in)?|von|by|text|written by)\s*:?$", re.I
)
TEXT_BYLINE_TAGS = (
    "p",
    "span",
    "div",
    "em",
    "i",
    "strong",
    "b",
    "small",
    "h4",
    "h5",
    "h6",
    "byline",
    "address",
    "li",
    "font",
    "td",
    "dd",
)
MAX_TEXT_BYLINE_CHARS = 100
# words of a name are capitalised (or initials): "Jelko Djuren und Jutta Klaukien" is, the
# sentence "von der Stadt geplant" is not
NAME_WORD = re.compile(r"^(?:[^\W\d_][\w’'.-]*\.?)$")


NAME_PARTICLES = frozenset(
    [
        "von",
        "van",
        "vom",
        "zu",
        "de",
        "der",
        "den",
        "da",
        "di",
        "du",
        "la",
        "le",
        "del",
        "della",
        "dos",
        "das",
        "ter",
        "ten",
        "bin",
        "al",
        "el",
    ]
)


def _is_name(name: str) -> bool:
    """One to four words, each capitalised or an initial, particles ("de la", "von") inside."""
    words = name.split()
    if not 1 <= len(words) <= 4 or not words[0][0].isupper() or not words[-1][0].isupper():
        return False
    return all(
        NAME_WORD.match(word) and (word[0].isupper() or word in NAME_PARTICLES) for word in words
    )


def _leading_names(names: list[str]) -> list[str]:
    """The names up to the first piece that is not a name (a role after the names:
    "Uta Staschewski, Projektleiterin der HSS" → the name)."""
    kept: list[str] = []
    for name in names:
        if not _is_name(name):
            break
        kept.append(name)
    return kept


def _in_comments(element: Any) -> bool:
    return any(
        COMMENTS.search(f"{a.get('class') or ''} {a.get('id') or ''}")
        for a in (element, *element.iterancestors())
    )


def _byline_text_names(text: str) -> list[str]:
    text = BYLINE_DATE.split(text, maxsplit=1)[0].strip(" ·|•-–—,")
    # "/SP-X", "(Pressesprecher)", ", dpa", ", 21 juin 2018" after the names
    text = re.split(r"\s*[/(]\s*|\s*,\s*(?=\d)|,\s*(?=[^,]*$)(?=\S+$)", text, maxsplit=1)[0]
    return _leading_names(split_names(text))


def text_byline_names(tree: Any, keep: Callable[[list[str]], list[str]]) -> list[str]:
    """The names of the page's first byline stated in words: a short element whose text is
    "Von …" / "By …" / "Written by: …" / "Autorin: …", or a label element ("Autor:") followed by
    the name; outside comments, names capitalised, a trailing date, agency or outlet left out.
    A fallback for pages whose byline carries no author class and no structured data."""
    for element in tree.iter(TEXT_BYLINE_TAGS):
        head = (element.text or "").strip(" \t\n\r-–—|·•\xa0")
        if not head and len(element):
            head = (element[0].text or "").strip(" \t\n\r-–—|·•\xa0")
        first = head[:1].casefold()
        if not first or not (first in "bvpdatwer" or first.isdigit()):
            continue
        if len(head) > MAX_TEXT_BYLINE_CHARS:
            continue
        text = " ".join(" ".join(element.itertext()).split()).strip(" -–—|·•")
        if len(text) > MAX_TEXT_BYLINE_CHARS:
            continue
        if BYLINE_LABEL.match(text) and element.tag != "li":  # a menu item is no label
            following = [element.tail or ""]
            for sibling in element.itersiblings():
                if " ".join(following).strip() or len(" ".join(following)) > MAX_BYLINE_CHARS:
                    break
                if isinstance(sibling.tag, str):
                    following.append(" ".join(sibling.itertext()))
                following.append(sibling.tail or "")
            names_text = " ".join(" ".join(following).split())
        elif match := TEXT_BYLINE.match(text) or DATE_THEN_NAME.match(text):
            names_text = match.group("names")
        else:
            continue
        if not names_text or len(names_text) > MAX_BYLINE_CHARS or _in_comments(element):
            continue
        if names := keep(_byline_text_names(names_text)):
            return names  # the first byline naming someone other than the outlet
    return []


def _meta(tree: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop") or ""
        content = element.get("content")
        key = key.strip().lower()
        if key and content and content.strip() and key not in found:
            found[key] = " ".join(content.split())
    return found


def extract_structured(tree: Any) -> StructuredData:
    """Read JSON-LD and meta tags from a parsed HTML tree (lxml)."""
    nodes: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            nodes.extend(_walk(json.loads((script.text or "").strip().rstrip(";"))))
        except (ValueError, RecursionError):
            continue  # malformed JSON-LD: ignore, the page still extracts
    articles = [n for n in nodes if _types(n) & ARTICLE_TYPES]
    article = articles[0] if articles else {}
    organisations = [name for n in nodes if _is_organisation(n) if (name := _text(n.get("name")))]
    meta = _meta(tree)

    publisher = _text(article.get("publisher")) if article else None
    site_name = meta.get("og:site_name") or meta.get("application-name") or publisher
    outlet = publisher or site_name

    by_id = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str) and len(n) > 2}
    raw_authors: list[str] = []
    author_value = article.get("author") or article.get("creator")
    for item in author_value if isinstance(author_value, list) else [author_value]:
        if isinstance(item, str) and item in by_id:
            item = by_id[item]
        if isinstance(item, dict) and "name" not in item and item.get("@id") in by_id:
            item = by_id[item["@id"]]  # {"@id": …/schema/person/…}: the Person in the @graph
        if isinstance(item, dict) and _is_organisation(item):
            if name := _text(item.get("name")):
                organisations.append(name)
            continue
        if isinstance(item, dict):
            item = item.get("name")  # a bare url or @id names no one
        if (name := _text(item)) and not EMAIL_OR_URL.fullmatch(name):
            raw_authors.append(name)
    if not raw_authors:
        for key in ("author", "article:author", "dc.creator", "sailthru.author", "parsely-author"):
            value = meta.get(key)
            if value and not value.startswith("http"):
                raw_authors.append(value)
                break
    canonical = next(
        (
            e.get("href")
            for e in tree.iter("link")
            if (e.get("rel") or "").lower() == "canonical" and e.get("href")
        ),
        None,
    )
    page_url = _text(article.get("url")) or meta.get("og:url") or canonical
    host = urlsplit(page_url).hostname if page_url and page_url.startswith("http") else None
    outlets = {o for o in [outlet, site_name, *organisations] if o}
    hosts = {host} if host else set()
    h1s = [text for e in tree.iter("h1") if (text := " ".join(" ".join(e.itertext()).split()))]
    h1 = next((" ".join("".join(e.itertext()).split()) for e in tree.iter("h1")), None)
    return StructuredData(
        headline=_text(article.get("headline")) or _text(article.get("name")),
        og_title=meta.get("og:title") or meta.get("twitter:title"),
        h1=h1 or None,
        h1s=tuple(h1s[:MAX_H1S]),
        html_title=next(
            (t for e in tree.iter("title") if (t := " ".join("".join(e.itertext()).split()))),
            None,
        ),
        authors=tuple(author_list(raw_authors, outlets, {host} if host else set())),
        outlet=outlet,
        site_name=site_name,
        published=parse_datetime(article.get("datePublished"))
        or parse_datetime(meta.get("article:published_time")),
        modified=parse_datetime(article.get("dateModified"))
        or parse_datetime(meta.get("article:modified_time")),
        canonical_url=page_url,
        section=_text(article.get("articleSection")) or meta.get("article:section"),
        language=_text(article.get("inLanguage")) or meta.get("og:locale"),
        article_body=body_text(article.get("articleBody")),
        organisations=tuple(dict.fromkeys(organisations)),
        host=host,
        byline_authors=tuple(author_list(byline_names(tree), outlets, {host} if host else set())),
        text_byline_authors=tuple(
            text_byline_names(tree, lambda names: author_list(names, outlets, hosts))
        ),
        meta_published=day_first_published(meta),
    )


MAX_H1S = 5
MAX_TITLE_CHARS = 300


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))


def choose_title(data: StructuredData, page_title: str | None) -> str | None:
    """The headline a reader sees: the article's ``<h1>`` when the page's own title fields
    (JSON-LD headline, og:title, trafilatura's title) confirm it (equal to one, or one is
    the ``<h1>`` plus a site name or a kicker on a word boundary) and it is not the site name
    itself; else JSON-LD headline, then og:title, then the page title, then the ``<h1>``,
    site name stripped from each (the ``<title>`` element where trafilatura took the site
    name). Measured on the development corpus: the confirmed ``<h1>`` is the gold headline
    more often than any single field (see tests/benchmarks/bench_quality.py)."""
    names = [n for n in (data.site_name, data.outlet, *data.organisations) if n]
    if data.host and (registered := _squash(data.host)):
        names.append(registered)  # "… - hausinfo" on www.hausinfo.ch
    candidates = [c for c in (data.headline, data.og_title, page_title) if c]
    site_keys = {_key(n) for n in names} | {_squash(n) for n in names}
    if data.host:
        site_keys |= {_squash(data.host), re.sub(r"[\W_]+", "", data.host.casefold())}
    confirm = set()
    for candidate in candidates:
        confirm |= {_key(candidate), _key(strip_site_name(candidate, names))}
    h1s: tuple[str, ...] = data.h1s or ((data.h1,) if data.h1 else ())
    for h1 in h1s:
        key = _key(h1)
        if not key or len(h1) > MAX_TITLE_CHARS or key in site_keys or _squash(h1) in site_keys:
            continue
        if any(key == c or c.startswith(key + " ") or c.endswith(" " + key) for c in confirm if c):
            return h1
    for title in (data.headline, data.og_title, page_title, data.h1):
        if not title:
            continue
        if _key(title) in site_keys and data.html_title:
            return strip_site_name(data.html_title, names)  # trafilatura took a site-name <h1>
        return strip_site_name(title, names)
    return None
