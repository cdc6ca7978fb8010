"""URL identity: one canonical string per web address, so that variants of a link (host case,
default port, tracking parameters, fragment, parameter order, percent-encoding case) all map to
the same key.

``normalize_url`` is deliberately conservative: it only changes what cannot change which page
a server returns. It uses courlan's tracker filter (``courlan.clean.TRACKERS_RE``) plus a short
list of trackers courlan misses, but not ``courlan.clean_url``/``courlan.normalize_url``
themselves, because for an identity key those lose information (see the notes below):

* ``courlan.normalize_url`` HTML-unescapes the whole URL, so ``?a=1&copy=2`` becomes
  ``?a=1©=2`` (also ``&not``, ``&para``, ``&times``, ``&reg…``: legacy entities without ``;``).
* it parses the query with ``parse_qs`` and so drops blank values and value-less keys:
  ``/story?12345`` and ``/story?67890`` both become ``/story``.
* ``strict=True`` keeps only ~15 allow-listed parameter names (``id``, ``p``, ``page`` …), which
  merges distinct articles addressed by e.g. ``?storyId=`` or ``?v=``.
* its tracker regex is unanchored at the end, so ``gallery``, ``global``, ``reference`` or
  ``sourceid`` count as trackers (prefixes ``ga``, ``gl``, ``ref``, ``source``); here a tracker
  word must end the parameter name or be followed by ``_``/``-``/``.``.
* ``scrub_url`` replaces a URL that embeds another one (``?url=https://…``, or any second
  ``https://`` in the query) by the embedded one, which can merge unrelated articles.
* it accepts ``javascript:``/``mailto:`` and keeps fragments; it does not normalise
  percent-encoding case or dot segments.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

import idna
from courlan.clean import TRACKERS_RE

__all__ = ["idna_host", "is_tracking_param", "normalize_url", "url_host"]

_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# courlan's tracker regex, but a tracker *word* must end the name (or be followed by a
# separator); the prefix forms (``utm_``, ``mc_`` …) end in ``_`` and match as before.
_COURLAN_TRACKER = re.compile(rf"(?:{TRACKERS_RE.pattern})(?:(?<=_)|(?=$|[_\-.]))")

# Trackers courlan misses (exact names, lower-case).
_EXTRA_TRACKERS = frozenset(
    {
        "ocid",  # Microsoft / MSN
        "cmpid",
        "cmp",  # Guardian ?CMP=share_btn_tw
        "intcmp",
        "icid",
        "ncid",  # Yahoo
        "mbid",
        "smid",  # New York Times
        "smtyp",
        "spm",
        "srsltid",  # Google
        "gclsrc",
        "ttclid",  # TikTok
        "li_fat_id",  # LinkedIn
        "s_kwcid",
        "_hsenc",  # HubSpot
        "_hsmi",
        "_openstat",
        "_ke",  # Klaviyo
        "maca",  # Deutsche Welle ?maca=en-rss-en-all-1573-rdf
        "dicbo",
        "igsh",  # Instagram
        "trk",
        "rb_clickid",
        "sr_share",
        "soc_src",
        "soc_trk",
        "guccounter",
        "__twitter_impression",
    }
)
# Tracker families by prefix (lower-case): AT Internet (BBC ``at_medium``), comScore ``ns_``,
# Webtrends ``wt_``/``wt.``, Facebook ``fb_action_ids``, Google Ads ``hsa_``, Matomo/Piwik.
_EXTRA_TRACKER_PREFIXES = ("at_", "ns_", "wt_", "wt.", "fb_", "hsa_", "piwik_", "matomo_")

# RFC 3986 character classes.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PATH_LITERAL = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
# In a query key or value ``&`` and ``=`` separate parts, so they stay encoded; ``+`` stays
# literal (a space in form encoding) and ``%2B`` stays encoded (a plus sign).
_QUERY_LITERAL = (_UNRESERVED | _SUB_DELIMS | frozenset(":@/?")) - frozenset("&=")
_HEX = frozenset("0123456789abcdefABCDEF")
_HOST_RE = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
)
_CONTROL = "".join(map(chr, range(0x21)))  # control characters and space


def is_tracking_param(name: str) -> bool:
    """True when a query parameter name is a known tracker (case-insensitive)."""
    key = _percent_decode_text(name.replace("+", " ")).strip().lower()
    if not key:
        return False
    if key in _EXTRA_TRACKERS or key.startswith(_EXTRA_TRACKER_PREFIXES):
        return True
    return _COURLAN_TRACKER.search(key) is not None


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of an http(s) URL, or ``None`` when ``url`` is not one.

    ``url`` may be relative when ``base`` is given. The result has a lower-case scheme and
    host (UTS-46 IDNA, as browsers and httpx: ``straße.de`` is ``xn--strae-oqa.de``), no user
    info, no default port, no fragment, ``/`` for an empty path, dot segments removed
    (repeated slashes are kept: ``/a//b`` may be another page than ``/a/b``), percent-encoding in
    upper case with unreserved characters decoded, tracking parameters removed and the
    remaining parameters sorted by name (repeated names keep their relative order).
    ``normalize_url(normalize_url(u)) == normalize_url(u)``.
    """
    if not isinstance(url, str):
        return None
    candidate = _scrub(url)
    if not candidate:
        return None
    if base:
        base_clean = _scrub(base)
        try:
            candidate = urljoin(base_clean, candidate) if base_clean else candidate
        except ValueError:
            return None
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError:  # bad port, unbalanced IPv6 brackets …
        return None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        return None
    host = _normalize_host(parts.hostname)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _normalize_path(parts.path)
    query = _normalize_query(parts.query)
    return urlunsplit(SplitResult(scheme, netloc, path, query, ""))


def url_host(url: str) -> str:
    """The normalised host of an http(s) URL (lower-case, IDNA, no port, no ``www.`` change).

    Raises ``ValueError`` when ``url`` is not a usable http(s) URL.
    """
    normalized = normalize_url(url)
    if normalized is None:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = urlsplit(normalized).hostname
    if not host:  # pragma: no cover - normalize_url guarantees a host
        raise ValueError(f"URL has no host: {url!r}")
    return host


# --- helpers ---------------------------------------------------------------------------------


def _scrub(url: str) -> str:
    """Remove what feeds wrap around links: whitespace (also inside, from line wrapping),
    control characters, ``<![CDATA[…]]>`` and an escaped ``&amp;``."""
    text = "".join(url.split()).strip(_CONTROL)
    if text.startswith("<![CDATA[") and text.endswith("]]>"):
        text = text[9:-3]
    return text.replace("&amp;", "&")


def _normalize_host(hostname: str | None) -> str | None:
    if not hostname:
        return None
    host = hostname.strip().rstrip(".").lower()  # urlsplit already lower-cases ASCII
    if not host:
        return None
    if ":" in host:  # IPv6 literal (brackets removed by urlsplit)
        return host if re.fullmatch(r"[0-9a-f:.]+(?:%[0-9a-z._~-]+)?", host) else None
    if not host.isascii():
        encoded = idna_host(host)
        if encoded is None:
            return None
        host = encoded
    if len(host) > 253 or not _HOST_RE.fullmatch(host):
        return None
    if any(len(label) > 63 for label in host.split(".")):
        return None
    return host


def idna_host(host: str) -> str | None:
    """A non-ASCII host name in its ASCII (punycode) form by UTS-46 non-transitional
    processing, the mapping browsers use (``ß`` stays ``ß``, full-width letters become ASCII):
    ``straße.de`` → ``xn--strae-oqa.de``. ``None`` when it is no valid IDNA name."""
    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def _normalize_path(path: str) -> str:
    path = _normalize_encoding(path, _PATH_LITERAL)
    path = _remove_dot_segments(path)
    return path if path.startswith("/") else "/" + path


def _normalize_query(query: str) -> str:
    if not query:
        return ""
    params: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if is_tracking_param(name):
            continue
        name = _normalize_encoding(name, _QUERY_LITERAL)
        if name.startswith("amp;"):  # would read as an escaped "&amp;" on the next pass
            name = "amp%3B" + name[4:]
        value = _normalize_encoding(value, _QUERY_LITERAL | {"="})
        params.append((name, f"{name}{sep}{value}"))
    params.sort(key=lambda item: item[0])  # stable: repeated names keep their order
    return "&".join(text for _, text in params)


def _normalize_encoding(text: str, literal: frozenset[str]) -> str:
    """Upper-case ``%xx`` escapes, decode escaped unreserved characters, and escape (as UTF-8)
    every character that may not appear literally. A ``%`` that starts no escape becomes
    ``%25``."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "%":
            if i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
                byte = int(text[i + 1 : i + 3], 16)
                decoded = chr(byte)
                out.append(decoded if decoded in _UNRESERVED else f"%{byte:02X}")
                i += 3
                continue
            out.append("%25")
        elif char in literal:
            out.append(char)
        else:
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def _percent_decode_text(text: str) -> str:
    """Decode ``%xx`` escapes as UTF-8 (invalid bytes replaced); only for comparing names."""
    return unquote(text, errors="replace") if "%" in text else text


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result
