"""Feeds: the feed list (``seeds/feeds.yaml``) and parsing one fetched RSS/Atom document.

Plain functions, no I/O besides reading the feed-list file: fetching is someone else's job.
``parse_feed`` only ever hands feedparser an in-memory stream. Given a ``str`` feedparser
fetches URLs and opens local paths, and given ``bytes`` it still tries ``open(body)`` first,
so a response body that spells a local path (``b"/etc/passwd"``) would be read from disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import feedparser
import yaml
from newsledger.tasks.errors import (
    EmptyFeedError,
    FeedEntryRejectedError,
    FeedListError,
    IllFormedFeedError,
    NotAFeedError,
)
from newsledger.tasks.metadata import split_authors
from newsledger.tasks.urls import normalize_url
from newsledger.tasks.values import LANGUAGE_TAG

__all__ = [
    "FeedEntry",
    "FeedList",
    "FeedSpec",
    "ParsedFeed",
    "entry_metadata_hash",
    "load_feed_list",
    "parse_feed",
    "parse_feed_list_text",
    "parse_interval",
    "read_feed_list",
]

# --- the feed list ---------------------------------------------------------------------------

FEED_KEYS = ("name", "url", "interval", "language", "enabled")
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INTERVAL_TOKEN = re.compile(r"\s*(\d+)\s*([a-z]*)\s*,?\s*(?:and\s+)?")
_UNIT_MINUTES = {
    "": 1,
    "m": 1,
    "min": 1,
    "mins": 1,
    "minute": 1,
    "minutes": 1,
    "h": 60,
    "hr": 60,
    "hrs": 60,
    "hour": 60,
    "hours": 60,
    "d": 1440,
    "day": 1440,
    "days": 1440,
}


@dataclass(frozen=True)
class FeedSpec:
    """One entry of the feed list. ``url`` is kept as written (whitespace stripped);
    ``interval_minutes``/``language`` are ``None`` when not given; ``line`` is 1-based."""

    name: str
    url: str
    interval_minutes: int | None
    language: str | None
    enabled: bool = True
    line: int = 0


@dataclass(frozen=True)
class FeedList:
    """The usable entries of a feed list, and the entries rejected one by one (a url that is
    not http(s)), each error naming its line; the rest of the list is still polled."""

    specs: list[FeedSpec]
    rejected: list[FeedEntryRejectedError]


def load_feed_list(path: Path) -> list[FeedSpec]:
    """Read and validate a feed-list YAML file. Raises ``FeedListError`` naming the file and
    the line of the first problem."""
    return parse_feed_list_text(_read_feed_list_text(path), source=str(path))


def read_feed_list(path: Path) -> FeedList:
    """Like ``load_feed_list``, but an entry whose url is not http(s) is rejected on its own
    (``FeedList.rejected``) instead of failing the whole list. Any other problem still raises
    ``FeedListError``: it means the file is not what we think it is."""
    return _parse_feed_list(_read_feed_list_text(path), source=str(path))


def _read_feed_list_text(path: Path) -> str:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FeedListError(f"{source}: feed list not found") from None
    except UnicodeDecodeError as exc:
        raise FeedListError(f"{source}: feed list is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise FeedListError(f"{source}: cannot read feed list: {exc.strerror or exc}") from None
    return text


def parse_feed_list_text(text: str, source: str = "<string>") -> list[FeedSpec]:
    """Parse feed-list YAML given as text (``source`` names it in error messages); raises
    ``FeedListError`` for the first problem, a rejected entry included.

    Format::

        feeds:
          - name: CNN top stories        # required, unique
            url: http://rss.cnn.com/rss/edition.rss   # required, http(s), unique
            interval: 15m                # optional: minutes as int, or "15m", "2h", "1d",
                                         #   "30 minutes", "1h 30m"
            language: en                 # optional language tag
            enabled: false               # optional, default true

    Other top-level keys must start with ``x-`` (ignored; a place for YAML anchors that
    entries merge with ``<<: *name``).
    """
    parsed = _parse_feed_list(text, source)
    if parsed.rejected:
        raise parsed.rejected[0]
    return parsed.specs


def _parse_feed_list(text: str, source: str) -> FeedList:
    loader = _FAST_LOADER(text)  # libyaml when available: ~10x faster on long lists
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise FeedListError(f"{source}:{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise FeedListError(f"{source}: YAML error: {exc}") from None
    finally:
        loader.dispose()

    if root is None:
        raise FeedListError(f"{source}:1: the file is empty; expected a top-level 'feeds:' list")
    if not isinstance(root, yaml.MappingNode):
        raise FeedListError(
            f"{source}:{_line(root)}: expected a mapping with a top-level 'feeds:' list, "
            f"found {_kind(root)}"
        )
    feeds_node: yaml.Node | None = None
    for key_node, value_node in root.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key == "feeds":
            if feeds_node is not None:
                raise FeedListError(f"{source}:{_line(key_node)}: 'feeds' is given twice")
            feeds_node = value_node
        elif not (isinstance(key, str) and key.startswith("x-")):
            raise FeedListError(
                f"{source}:{_line(key_node)}: unknown top-level key {key!r}; only 'feeds' "
                "(and 'x-…' keys, ignored, e.g. to hold YAML anchors) are allowed"
            )
    if feeds_node is None:
        raise FeedListError(f"{source}:{_line(root)}: no top-level 'feeds:' list")
    if not isinstance(feeds_node, yaml.SequenceNode):
        if isinstance(feeds_node, yaml.ScalarNode) and feeds_node.tag.endswith(":null"):
            return FeedList([], [])  # "feeds:" with nothing under it
        raise FeedListError(
            f"{source}:{_line(feeds_node)}: 'feeds' must be a list of mappings, "
            f"found {_kind(feeds_node)}"
        )

    specs: list[FeedSpec] = []
    rejected: list[FeedEntryRejectedError] = []
    seen_urls: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for index, item in enumerate(feeds_node.value, start=1):
        try:
            spec = _parse_entry(item, index, source)
        except FeedEntryRejectedError as error:
            rejected.append(error)
            continue
        where = f"{source}:{spec.line}: feed #{index} ({spec.name!r})"
        key = normalize_url(spec.url) or spec.url
        if key in seen_urls:
            raise FeedListError(
                f"{where}: duplicate url {spec.url!r} (already listed at line {seen_urls[key]})"
            )
        folded = spec.name.casefold()
        if folded in seen_names:
            raise FeedListError(
                f"{where}: duplicate name {spec.name!r} (already used at line {seen_names[folded]})"
            )
        seen_urls[key] = spec.line
        seen_names[folded] = spec.line
        specs.append(spec)
    return FeedList(specs, rejected)


def parse_interval(value: object) -> int:
    """Minutes from an int (minutes) or a duration string ("15m", "2h", "1d", "30 minutes",
    "1h 30m", "90"). Raises ``ValueError`` for anything else or a duration < 1 minute."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, not a boolean")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str):
        text = value.strip().lower()
        pos = 0
        minutes = 0
        tokens = 0
        while pos < len(text):
            match = _INTERVAL_TOKEN.match(text, pos)
            if match is None or match.end() == pos or match[2] not in _UNIT_MINUTES:
                raise ValueError("expected minutes or a duration like '15m', '2h', '1d'")
            if match[2] == "" and (tokens or match.end() < len(text)):
                raise ValueError("every part of a compound duration needs a unit")
            minutes += int(match[1]) * _UNIT_MINUTES[match[2]]
            tokens += 1
            pos = match.end()
        if tokens == 0:
            raise ValueError("empty duration")
    else:
        raise ValueError(f"expected minutes or a duration string, not {type(value).__name__}")
    if minutes < 1:
        raise ValueError("must be at least 1 minute")
    return minutes


def _parse_entry(node: yaml.Node, index: int, source: str) -> FeedSpec:
    line = _line(node)
    where = f"{source}:{line}: feed #{index}"
    if not isinstance(node, yaml.MappingNode):
        raise FeedListError(
            f"{where}: each feed must be a mapping with 'name' and 'url', found {_kind(node)}"
        )
    # Duplicate keys (PyYAML silently keeps the last one) and key lines, before merges.
    own: dict[str, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise FeedListError(f"{source}:{_line(key_node)}: feed #{index}: keys must be text")
        if key_node.value in own:
            raise FeedListError(
                f"{source}:{_line(key_node)}: feed #{index}: key {key_node.value!r} is given "
                f"twice (first at line {_line(own[key_node.value])})"
            )
        own[key_node.value] = key_node
    constructor = yaml.SafeLoader("")
    try:
        constructor.flatten_mapping(node)  # resolves "<<: *defaults" merges in place
        values: dict[str, tuple[Any, int]] = {}
        for key_node, value_node in node.value:  # later pairs win, as in YAML
            data = constructor.construct_object(value_node, deep=True)
            values[str(key_node.value)] = (data, _line(key_node))
    except yaml.YAMLError as exc:
        raise FeedListError(f"{where}: {exc}") from None
    finally:
        constructor.dispose()

    name_value = values.get("name", (None, line))[0]
    label = f"{where} ({name_value!r})" if isinstance(name_value, str) else where
    unknown = [key for key in values if key not in FEED_KEYS]
    if unknown:
        key = unknown[0]
        raise FeedListError(
            f"{label}: unknown key {key!r} (line {values[key][1]}); "
            f"allowed keys: {', '.join(FEED_KEYS)}"
        )

    if "name" not in values:
        raise FeedListError(f"{label}: missing 'name'")
    if not isinstance(name_value, str) or not name_value.strip():
        raise FeedListError(f"{label}: 'name' must be non-empty text, got {name_value!r}")
    name = name_value.strip()

    if "url" not in values:
        raise FeedListError(f"{label}: missing 'url'")
    url_value, url_line = values["url"]
    if not isinstance(url_value, str) or not url_value.strip():
        raise FeedListError(f"{label}: 'url' (line {url_line}) must be text, got {url_value!r}")
    url = url_value.strip()
    if normalize_url(url) is None:
        raise FeedEntryRejectedError(
            f"{label}: url {url!r} (line {url_line}) is not an http(s) URL", url=url, line=url_line
        )

    interval: int | None = None
    if "interval" in values and values["interval"][0] is not None:
        raw, raw_line = values["interval"]
        try:
            interval = parse_interval(raw)
        except ValueError as exc:
            raise FeedListError(f"{label}: bad interval {raw!r} (line {raw_line}): {exc}") from None

    language: str | None = None
    if "language" in values and values["language"][0] is not None:
        raw, raw_line = values["language"]
        if isinstance(raw, bool):  # YAML 1.1 reads "no" (Norwegian) as false
            raise FeedListError(
                f"{label}: 'language' (line {raw_line}) was read as {raw!r}; quote it, "
                'e.g. language: "no"'
            )
        if not isinstance(raw, str) or not LANGUAGE_TAG.fullmatch(raw.strip()):
            raise FeedListError(
                f"{label}: 'language' (line {raw_line}) must be a language tag like 'en' or "
                f"'pt-BR', got {raw!r}"
            )
        language = raw.strip()

    enabled = True
    if "enabled" in values:
        raw, raw_line = values["enabled"]
        if not isinstance(raw, bool):
            raise FeedListError(
                f"{label}: 'enabled' (line {raw_line}) must be true or false, got {raw!r}"
            )
        enabled = raw

    return FeedSpec(
        name=name,
        url=url,
        interval_minutes=interval,
        language=language,
        enabled=enabled,
        line=line,
    )


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = str(node.value)
    return f"the value {value[:40]!r}" if value else "nothing"


# --- parsing one feed document ----------------------------------------------------------------

FUTURE_TOLERANCE = timedelta(days=2)


@dataclass(frozen=True)
class FeedEntry:
    """One usable item of a feed. ``identity`` is the normalised link, or ``"guid:" + guid``
    when the entry has no usable link."""

    guid: str | None
    link: str | None
    raw_link: str | None
    title: str | None
    published: datetime | None
    updated: datetime | None
    authors: tuple[str, ...]
    summary: str | None
    identity: str


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed document. ``skipped`` holds ``(entry label, reason)`` for each dropped
    item (no usable link or guid, duplicate)."""

    url: str
    title: str | None
    entries: tuple[FeedEntry, ...]
    bozo: bool
    bozo_message: str | None
    skipped: tuple[tuple[str, str], ...]


def skip_code(reason: str) -> str:
    """The short code of a skip reason of ``ParsedFeed.skipped`` (stored with the skip)."""
    if reason.startswith("duplicate: same guid"):
        return "duplicate_guid"
    if reason.startswith("duplicate:"):
        return "duplicate_link"
    if "is not an http(s) URL" in reason:
        return "unsupported_scheme"
    return "no_link"


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse one fetched RSS/Atom document.

    ``url`` is the address the body came from (after redirects): it is the base for relative
    links unless ``headers`` carry a ``Content-Location`` (xml:base inside the document is
    honoured too). ``headers`` are the HTTP response
    headers (``Content-Type`` with its charset matters). ``now`` (UTC) is for tests: dates more
    than two days after it are dropped as bogus.

    Ill-formed feeds are accepted as long as feedparser recovers entries (``bozo`` is then
    true). Raises ``FeedError`` when there is nothing usable: an empty body, a document that is
    no feed (e.g. an HTML page), or an ill-formed document without entries.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"parse_feed needs the response body as bytes, not {type(body).__name__}")
    data = bytes(body)
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
        raise EmptyFeedError(f"{url}: empty response body, not a feed")

    response_headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    # The base for relative links: Content-Location (itself relative to the URL) or the URL.
    location = response_headers.get("content-location", "").strip()
    try:
        base = urljoin(url, location) if location else url
    except ValueError:
        base = url
    rebase = _Rebase(base)
    response_headers["content-location"] = rebase.stand_in
    # Without a Content-Type feedparser flags every document as bozo ("no Content-type").
    response_headers.setdefault("content-type", "application/xml")
    result = feedparser.parse(io.BytesIO(data), response_headers=response_headers)

    bozo = bool(result.get("bozo"))
    bozo_exc = result.get("bozo_exception")
    bozo_message = f"{type(bozo_exc).__name__}: {bozo_exc}" if bozo and bozo_exc else None
    raw_entries = list(result.get("entries") or [])
    version = str(result.get("version") or "")

    if not raw_entries:
        if _looks_like_html(data, response_headers.get("content-type", "")) and not version:
            raise NotAFeedError(f"{url}: got an HTML page, not an RSS/Atom feed")
        if not version:
            detail = f" ({bozo_message})" if bozo_message else ""
            raise NotAFeedError(f"{url}: not an RSS/Atom feed: no feed root element found{detail}")
        if bozo:
            raise IllFormedFeedError(
                f"{url}: ill-formed feed with no recoverable entries ({bozo_message})"
            )

    now_utc = (now or datetime.now(UTC)).astimezone(UTC)
    latest = now_utc + FUTURE_TOLERANCE
    entries: list[FeedEntry] = []
    skipped: list[tuple[str, str]] = []
    seen_links: dict[str, int] = {}
    seen_guids: dict[str, tuple[int, str | None]] = {}
    for position, raw in enumerate(raw_entries, start=1):
        entry = _build_entry(raw, rebase, latest)
        if isinstance(entry, tuple):
            skipped.append(entry)
            continue
        label = entry.guid or entry.raw_link or entry.title or f"entry #{position}"
        first = None
        if entry.link is not None and entry.link in seen_links:
            first = f"same link as entry #{seen_links[entry.link]}"
        elif entry.guid is not None and entry.guid in seen_guids:
            other, other_link = seen_guids[entry.guid]
            first = f"same guid as entry #{other}"
            if entry.link != other_link:
                first += f" (its link {other_link}; this one {entry.link or entry.raw_link})"
        if first is not None:
            skipped.append((label, f"duplicate: {first}"))
            continue
        if entry.link is not None:
            seen_links[entry.link] = position
        if entry.guid is not None:
            seen_guids[entry.guid] = (position, entry.link)
        entries.append(entry)

    feed_info = result.get("feed") or {}
    return ParsedFeed(
        url=url,
        title=_plain_text(feed_info.get("title")),
        entries=tuple(entries),
        bozo=bozo,
        bozo_message=bozo_message,
        skipped=tuple(skipped),
    )


class _Rebase:
    """feedparser needs an absolute base (``Content-Location``): without one an ``xml:base`` on
    one item leaks into the following items. But with a base it also resolves every guid not
    marked ``isPermaLink="false"`` (and Atom ids), turning guid ``12345`` into
    ``https://host/feeds/12345``, and copies that into ``link`` when an item has no <link>.

    So feedparser gets a stand-in base: the real one with its host replaced by a reserved
    ``.invalid`` name. Links resolved against it get the real scheme and host back (relative
    resolution depends only on the path); guids resolved against it are turned back into the
    relative text they were (exact for plain ids like ``12345`` or ``a/b``; ``../x`` comes back
    as ``/x``). A guid resolved against an absolute ``xml:base`` cannot be told apart."""

    HOST = "feed-base.newsledger.invalid"

    def __init__(self, base: str) -> None:
        try:
            parts = urlsplit(base)
        except ValueError:
            parts = urlsplit("")
        real = parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)
        self.scheme = parts.scheme.lower() if real else "https"
        self.netloc = parts.netloc if real else None
        path = parts.path if real and parts.path.startswith("/") else "/"
        self.directory = path[: path.rfind("/") + 1]
        self.stand_in = urlunsplit((self.scheme, self.HOST, path, parts.query if real else "", ""))

    def _split(self, value: str) -> SplitResult | None:
        try:
            parts = urlsplit(value)
        except ValueError:
            return None
        return parts if parts.netloc.lower() == self.HOST else None

    def link(self, value: str | None) -> str | None:
        """A resolved link with the real scheme and host (relative if there is none)."""
        if value is None or (parts := self._split(value)) is None:
            return value
        if self.netloc is None:
            return urlunsplit(("", "", parts.path, parts.query, parts.fragment))
        return urlunsplit((self.scheme, self.netloc, parts.path, parts.query, parts.fragment))

    def guid(self, value: str | None) -> str | None:
        """A guid as written in the feed (undoing feedparser's resolution)."""
        if value is None or (parts := self._split(value)) is None:
            return value
        path = parts.path
        if path.startswith(self.directory) and len(path) > len(self.directory):
            path = path[len(self.directory) :]
        text = path + (f"?{parts.query}" if parts.query else "")
        return text + (f"#{parts.fragment}" if parts.fragment else "")


def _build_entry(
    raw: Mapping[str, Any], rebase: _Rebase, latest: datetime
) -> FeedEntry | tuple[str, str]:
    resolved_guid = _clean_str(raw.get("id"))
    guid = rebase.guid(resolved_guid)
    resolved_link = _clean_str(raw.get("link"))
    raw_link = rebase.link(resolved_link)
    if (
        resolved_link is not None
        and resolved_link == resolved_guid
        and _raw_get(raw, "guidislink")
        and not _is_absolute_http(guid or "")
    ):
        # feedparser copied a permalink guid into ``link`` (RSS: isPermaLink absent or true,
        # no <link>). Many feeds omit isPermaLink="false" on ids like "12345": only an
        # absolute http(s) guid is taken as the entry's address.
        raw_link = None
    if raw_link is None:
        for item in raw.get("links") or []:
            href = rebase.link(_clean_str(item.get("href")))
            if item.get("rel", "alternate") == "alternate" and href:
                raw_link = href
                break
    link = normalize_url(raw_link, base=rebase.link(rebase.stand_in)) if raw_link else None
    title = _metadata(lambda: _capped(_plain_text(raw.get("title")), TITLE_CHARS), None)
    if link is not None:
        identity = link
    elif guid is not None:
        identity = f"guid:{guid}"
    else:
        label = raw_link or title or "entry without link, guid or title"
        reason = (
            f"link {raw_link[:80]!r} is not an http(s) URL and the entry has no guid"
            if raw_link
            else "no link and no guid"
        )
        return (label, reason)

    return FeedEntry(
        guid=guid,
        link=link,
        raw_link=raw_link,
        title=title,
        published=_metadata(lambda: _to_datetime(_raw_get(raw, "published_parsed"), latest), None),
        updated=_metadata(lambda: _to_datetime(_raw_get(raw, "updated_parsed"), latest), None),
        authors=_metadata(lambda: _authors(raw), ()),
        summary=_metadata(lambda: _capped(_summary(raw), SUMMARY_CHARS), None),
        identity=identity,
    )


TITLE_CHARS = 1_000
SUMMARY_CHARS = 2_000
"""Longest title and summary kept of an entry (plain text; a feed may inline whole articles)."""

_T = TypeVar("_T")


def _metadata(read: Callable[[], _T], default: _T) -> _T:
    """One metadata field of an entry, or ``default`` when reading it fails in any way: an
    entry's title, dates, authors or summary are a second opinion, and a malformed one never
    costs the entry its page."""
    try:
        return read()
    except Exception:  # whatever feedparser handed over, the entry stays
        return default


def _summary(raw: Mapping[str, Any]) -> str | None:
    summary = _plain_text(raw.get("summary"))
    if summary is None:
        for content in raw.get("content") or []:
            summary = _plain_text(content.get("value"))
            if summary:
                break
    return summary


def _capped(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def entry_metadata_hash(entry: FeedEntry) -> str:
    """SHA-256 of what an entry states about its page (guid, title, times, authors, summary):
    the key of one version of the entry's metadata in the ledger (``feed_entries``)."""
    fields = [
        entry.guid,
        entry.title,
        entry.published.isoformat() if entry.published else None,
        entry.updated.isoformat() if entry.updated else None,
        list(entry.authors),
        entry.summary,
    ]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _is_absolute_http(value: str) -> bool:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)


def _raw_get(raw: Mapping[str, Any], key: str) -> Any:
    """A key as stored, bypassing FeedParserDict's aliases (e.g. ``updated`` → ``published``
    in some versions)."""
    return dict.get(raw, key) if isinstance(raw, dict) else raw.get(key)


def _to_datetime(value: object, latest: datetime) -> datetime | None:
    """feedparser's UTC ``struct_time`` as an aware datetime; ``None`` if absent, invalid or
    after ``latest``."""
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        moment = datetime(*value[:6], tzinfo=UTC)  # type: ignore[misc]
    except (TypeError, ValueError, OverflowError):
        return None
    return None if moment > latest else moment


_EMAIL_NAME = re.compile(r"^\S+@\S+\s*\((.+)\)$")


def _authors(raw: Mapping[str, Any]) -> tuple[str, ...]:
    candidates: list[str] = []
    for author in raw.get("authors") or []:
        if isinstance(author, Mapping):
            value = _clean_str(author.get("name")) or _clean_str(author.get("email"))
            if value:
                candidates.append(value)
    if not candidates:
        single = _clean_str(raw.get("author"))
        if single:
            candidates.append(single)
    names: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        text = _plain_text(candidate) or ""
        match = _EMAIL_NAME.match(text)
        if match:
            text = match[1]
        for part in _split_authors(text):
            key = part.casefold()
            if key not in seen:
                seen.add(key)
                names.append(part)
    return tuple(names)


def _split_authors(text: str) -> Iterable[str]:
    """The names of an author field, split as a page's byline is (``split_authors``), with an
    RSS ``email (Name)`` reduced to the name."""
    for part in split_authors(text):
        match = _EMAIL_NAME.match(part)
        yield match[1].strip() if match else part


def _clean_str(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text or None


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "template", "noscript"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "ul",
            "ol",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "tr",
            "td",
            "th",
            "blockquote",
            "section",
            "article",
            "figure",
            "figcaption",
            "hr",
            "pre",
            "table",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def _plain_text(value: object) -> str | None:
    """Text of an HTML fragment: tags removed, entities decoded, whitespace collapsed."""
    if not isinstance(value, str) or not value.strip():
        return None
    if "<" in value or "&" in value:
        parser = _TextExtractor()
        parser.feed(value)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = value
    text = " ".join(text.split())
    return text or None


def _looks_like_html(data: bytes, content_type: str) -> bool:
    if content_type.split(";")[0].strip().lower() in {"text/html", "application/xhtml+xml"}:
        return True
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]
