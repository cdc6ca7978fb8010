"""What a page says about itself: JSON-LD (``@graph``, arrays, nested), OpenGraph / ``article:*``
meta and ``<meta name=author>``, read from an lxml tree into a typed :class:`StructuredData`.

A focused parser on the tree trafilatura already built (no second parse, as ``extruct`` would
need); malformed JSON-LD is skipped, never fails a page.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    r"^\s*(?:(?:view|see|more)\s+(?:all\s+)?(?:posts|articles|stories)\s+)?"
    r"(?:(?:written|reported|reporting|words|text|story|photos?)\s+)?"
    r"(?:by|von|par|por|di|door|av|af|autor(?:in)?|author|text|texto|napsal[a]?)\s*[:\-]?\s+",
    re.I,
)
SUFFIXES = re.compile(r"\s+(?:says|said|writes|wrote|reports)\s*$", re.I)
SEPARATORS = re.compile(
    r"\s*(?:;|,|\||/|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|\ba\b|\bog\b|\ben\b|\boch\b|\bi\b)\s*",
    re.I,
)
EMAIL_OR_URL = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.I)
TITLE_SEPARATORS = r"\s+[-–—|:·•»/]\s+|\s+[|]\s*"


@dataclass(frozen=True)
class StructuredData:
    headline: str | None = None
    og_title: str | None = None
    h1: str | None = None
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
        return " ".join(value.split())
    return None


def clean_author(name: str) -> str | None:
    """``"By Art Edwards"``, ``"Autor Monika Bolliger"``, ``"Art Edwards says"`` → the name."""
    name = EMAIL_OR_URL.sub("", name)
    name = re.sub(r"\(.*?\)", "", name)
    name = PREFIXES.sub("", " ".join(name.split()))
    name = SUFFIXES.sub("", name).strip(" .,:;-–—|")
    if name.startswith("@"):  # a social-media handle, not a name
        return None
    if not name or not re.search(r"[^\W\d_]", name) or len(name.split()) > 6:
        return None
    return name


def split_names(text: str) -> list[str]:
    names: list[str] = []
    for part in SEPARATORS.split(PREFIXES.sub("", text or "")):
        name = clean_author(part)
        if name and name.lower() not in {"staff", "redaktion", "editor", "editors"}:
            names.append(name)
    return names


def author_list(values: list[str], outlets: set[str]) -> list[str]:
    """Clean, split, drop outlets/organisations, keep order, no duplicates (case-insensitive)."""
    folded_outlets = {o.casefold() for o in outlets if o}
    result: list[str] = []
    for value in values:
        for name in split_names(value):
            key = name.casefold()
            if key in folded_outlets:
                continue
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
    organisations = [
        name for n in nodes if _types(n) & ORGANISATION_TYPES if (name := _text(n.get("name")))
    ]
    meta = _meta(tree)

    publisher = _text(article.get("publisher")) if article else None
    site_name = meta.get("og:site_name") or meta.get("application-name") or publisher
    outlet = publisher or site_name

    raw_authors: list[str] = []
    author_value = article.get("author") or article.get("creator")
    for item in author_value if isinstance(author_value, list) else [author_value]:
        if isinstance(item, dict) and _types(item) & ORGANISATION_TYPES:
            if name := _text(item.get("name")):
                organisations.append(name)
            continue
        if name := _text(item):
            raw_authors.append(name)
    if not raw_authors:
        for key in ("author", "article:author", "dc.creator", "sailthru.author", "parsely-author"):
            value = meta.get(key)
            if value and not value.startswith("http"):
                raw_authors.append(value)
                break
    outlets = {o for o in [outlet, site_name, *organisations] if o}
    h1 = next((" ".join("".join(e.itertext()).split()) for e in tree.iter("h1")), None)
    canonical = next(
        (
            e.get("href")
            for e in tree.iter("link")
            if (e.get("rel") or "").lower() == "canonical" and e.get("href")
        ),
        None,
    )
    return StructuredData(
        headline=_text(article.get("headline")) or _text(article.get("name")),
        og_title=meta.get("og:title") or meta.get("twitter:title"),
        h1=h1 or None,
        authors=tuple(author_list(raw_authors, outlets)),
        outlet=outlet,
        site_name=site_name,
        published=parse_datetime(article.get("datePublished"))
        or parse_datetime(meta.get("article:published_time")),
        modified=parse_datetime(article.get("dateModified"))
        or parse_datetime(meta.get("article:modified_time")),
        canonical_url=_text(article.get("url")) or meta.get("og:url") or canonical,
        section=_text(article.get("articleSection")) or meta.get("article:section"),
        language=_text(article.get("inLanguage")) or meta.get("og:locale"),
        article_body=body_text(article.get("articleBody")),
        organisations=tuple(dict.fromkeys(organisations)),
    )


def choose_title(data: StructuredData, page_title: str | None) -> str | None:
    """JSON-LD headline, then og:title, then the page title; site name stripped from each."""
    names = [n for n in (data.site_name, data.outlet, *data.organisations) if n]
    for candidate in (data.headline, data.og_title, page_title, data.h1):
        if candidate:
            return strip_site_name(candidate, names)
    return None
