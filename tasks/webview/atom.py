"""Atom (RFC 4287) feeds of revisions: one entry per revision, its diff against the revision
before it as escaped HTML content, so a feed reader shows what changed.

Built with ElementTree (every value escaped by the serializer); characters XML 1.0 does not
allow (stored text is hostile input: control characters, lone surrogates) are dropped first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from newsledger.tasks.webview.queries import FeedEntry

ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM)
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str | None) -> str:
    return NOT_XML.sub("", value or "")


def rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FeedInfo:
    feed_id: str  # a stable IRI: urn:newsledger:feed:...
    title: str
    self_url: str  # this feed's absolute URL
    alternate_url: str  # the page it follows


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def entry_title(entry: FeedEntry) -> str:
    title = entry.title or entry.identity
    if entry.revision == 1:
        return f"New: {title}"
    what = ", ".join(entry.changed_fields) or "re-read"
    return f"Revision {entry.revision} ({what}): {title}"


def build_feed(
    info: FeedInfo,
    entries: Sequence[FeedEntry],
    *,
    entry_url: Callable[[FeedEntry], str],
    entry_html: Callable[[FeedEntry], str],
    now: datetime | None = None,
) -> bytes:
    """The feed document (UTF-8 bytes). ``entry_url``: the diff permalink of an entry;
    ``entry_html``: its content (HTML, escaped here as Atom ``type="html"`` text)."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", info.feed_id)
    _sub(feed, "title", info.title)
    updated = max((e.observed_at for e in entries), default=None) or now or datetime.now(UTC)
    _sub(feed, "updated", rfc3339(updated))
    author = _sub(feed, "author")
    _sub(author, "name", "newsledger")
    _sub(feed, "link", rel="self", type="application/atom+xml", href=info.self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=info.alternate_url)
    _sub(feed, "generator", "newsledger")
    for item in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _sub(entry, "id", f"urn:newsledger:revision:{item.article_id}:{item.revision}")
        _sub(entry, "title", entry_title(item))
        _sub(entry, "updated", rfc3339(item.observed_at))
        for name in item.authors:
            if xml_text(name).strip():
                _sub(_sub(entry, "author"), "name", name)
        _sub(entry, "link", rel="alternate", type="text/html", href=entry_url(item))
        if item.outlet:
            _sub(entry, "category", term=item.outlet)
        summary = f"+{item.words_added} / -{item.words_removed} words"
        if item.update_notes:
            summary += " · " + " ".join(item.update_notes)
        _sub(entry, "summary", summary)
        _sub(entry, "content", entry_html(item), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


__all__ = ["ATOM", "FeedInfo", "build_feed", "entry_title", "rfc3339", "xml_text"]
