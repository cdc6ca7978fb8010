"""One charset strategy for every input: a byte-order mark first, then a declared label (read
as the WHATWG Encoding Standard reads labels, via ``webencodings``), then strict UTF-8, then
detection (charset-normalizer) only for bytes that declare nothing and are not UTF-8.

HTML pages (:func:`decode_html`) take the HTTP ``charset`` and ``<meta charset>`` into
account; text files (:func:`decode_text`) have no label. Two deliberate departures from a
browser, both to avoid mojibake: bytes that are valid UTF-8 (and not plain ASCII) are read as
UTF-8 even when a legacy label says otherwise (a page saying ``iso-8859-1`` whose bytes are
UTF-8 would otherwise read "CrÃ³nica"), and a ``utf-8`` label that the bytes contradict is
ignored in favour of the next source.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import webencodings
from newsledger.tasks.errors import DecodeInputError

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# ``<meta charset=…>`` and ``<meta http-equiv=Content-Type content="…; charset=…">``, looked
# for in the first bytes of the page (browsers pre-scan 1 KiB; pages put it later often enough).
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
META_SCAN_BYTES = 4096

# WHATWG encoding names whose decoder is another Python codec than webencodings gives: the
# standard decodes every GBK label with the gb18030 decoder (a superset).
# x-user-defined (a label for "bytes as they are") has no Python codec: windows-1252, which
# the standard also uses when a page declares it in a <meta>.
_DECODER_OVERRIDES = {"gbk": "gb18030", "x-user-defined": "cp1252"}


def _c1_controls(error: UnicodeError) -> tuple[str, int]:
    """The WHATWG windows-1252 decoder maps the five bytes cp1252 leaves undefined (0x81, 0x8D,
    0x8F, 0x90, 0x9D) to the C1 control characters of the same value, never to U+FFFD."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error("newsledger-c1", _c1_controls)


def _stray_cp1252(error: UnicodeError) -> tuple[str, int]:
    """In mostly-UTF-8 bytes, an invalid byte is almost always a windows-1252 character pasted
    in from a legacy source (a lone 0xFC is "ü"): read it as one instead of U+FFFD."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    stray = error.object[error.start : error.end]
    return stray.decode("cp1252", errors="newsledger-c1"), error.end


codecs.register_error("newsledger-stray-cp1252", _stray_cp1252)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # the Python codec used
    source: str  # bom | http | meta | utf-8 | detected | fallback


def bom_encoding(raw: bytes) -> tuple[str, int] | None:
    """The encoding a byte-order mark announces, and the mark's length."""
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            return encoding, len(bom)
    return None


def whatwg_codec(label: str | None) -> str | None:
    """The Python codec for an encoding label as browsers resolve it (``latin1`` and ``ascii``
    are windows-1252, ``shift_jis`` is cp932, ``gb2312`` is gb18030…); None for an unknown
    label."""
    if not label:
        return None
    encoding = webencodings.lookup(label.strip().strip("\"'"))
    if encoding is None:
        return None
    name = encoding.name.lower()
    if name == "replacement":
        return None  # ISO-2022-KR, HZ-GB-2312…: browsers show one U+FFFD; let the bytes decide
    return _DECODER_OVERRIDES.get(name) or encoding.codec_info.name


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Bytes that are UTF-8 apart from a few stray bytes: at least this many well-formed multi-byte
# characters per invalid byte sequence (text in a single-byte encoding almost never forms one:
# it takes a capital accented letter followed by a symbol, as in "Ã¼").
MOSTLY_UTF8_RATIO = 4
MOSTLY_UTF8_MIN = 8


def mostly_utf8(raw: bytes) -> bool:
    """UTF-8 with a few invalid bytes (a page pasted together from a UTF-8 template and one
    legacy snippet): read as UTF-8 it shows a few U+FFFD, read as windows-1252 every accented
    letter of the page is mojibake."""
    text = raw.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    characters = len(text) - len(text.encode("ascii", errors="ignore")) - invalid
    return characters >= MOSTLY_UTF8_MIN and characters >= MOSTLY_UTF8_RATIO * invalid


# How much more "chaos" (charset-normalizer's mess score) the windows-1252 reading of bytes may
# have than the best reading and still win, when it is at least as coherent a language.
CP1252_CHAOS_MARGIN = 0.05


def detect_encoding(raw: bytes) -> str | None:
    """Guess the encoding of bytes that declare none and are not UTF-8 (charset-normalizer).
    Western single-byte text often scores alike in several code pages (French Latin-1 text came
    out as cp1257: "crčme"), so windows-1252, the usual encoding of undeclared Western pages
    and the browsers' default, wins when it is nearly as clean (CP1252_CHAOS_MARGIN) and at
    least as coherent as the best guess."""
    from charset_normalizer import from_bytes

    matches = from_bytes(raw)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if (
            match.encoding == "cp1252"
            and match.chaos <= best.chaos + CP1252_CHAOS_MARGIN
            and match.coherence >= best.coherence
        ):
            return "cp1252"
    return str(best.encoding)


def _decode(raw: bytes, codec: str, source: str) -> Decoded:
    errors = {"cp1252": "newsledger-c1", "utf-8": "newsledger-stray-cp1252"}.get(codec, "replace")
    return Decoded(raw.decode(codec, errors=errors), codec, source)


def decode_html_bytes(raw: bytes, declared_charset: str | None = None) -> Decoded:
    """Decode an HTML page: BOM; then the HTTP charset, then ``<meta charset>``; then UTF-8;
    then detection. See the module docstring for the two departures from a browser."""
    if found := bom_encoding(raw):
        encoding, length = found
        return _decode(raw[length:], encoding, "bom")
    utf8 = is_utf8(raw)
    match = META_CHARSET.search(raw[:META_SCAN_BYTES])
    meta_label = match.group(1).decode("ascii") if match else None
    for source, label in (("http", declared_charset), ("meta", meta_label)):
        codec = whatwg_codec(label)
        if codec is None:
            continue
        if source == "meta" and codec.replace("_", "-") in ("utf-16-le", "utf-16-be"):
            codec = "utf-8"  # the standard: a page cannot declare UTF-16 from inside itself
        if codec == "utf-8":
            if utf8:
                return Decoded(raw.decode("utf-8"), "utf-8", source)
            continue  # a UTF-8 label the bytes contradict: the next source decides
        if utf8 and not raw.isascii():
            return Decoded(raw.decode("utf-8"), "utf-8", "utf-8")
        if mostly_utf8(raw):
            return _decode(raw, "utf-8", "utf-8")
        return _decode(raw, codec, source)
    if utf8:
        return Decoded(raw.decode("utf-8"), "utf-8", "utf-8")
    if mostly_utf8(raw):
        return _decode(raw, "utf-8", "utf-8")
    detected = detect_encoding(raw)
    if detected is not None:
        return _decode(raw, detected, "detected")
    return _decode(raw, "cp1252", "fallback")


def decode_html(raw: bytes, declared_charset: str | None = None) -> str:
    return decode_html_bytes(raw, declared_charset).text


UTF16_SNIFF_BYTES = 8192
_UTF16 = {"utf_16_le": "utf-16-le", "utf_16_be": "utf-16-be"}


def bomless_utf16(data: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` when ``data`` (its first 8 KiB) is UTF-16 text
    without a byte-order mark, as charset-normalizer judges it; None otherwise. Only text with
    NUL bytes is asked (UTF-16 of Latin script: every other byte is 0), since UTF-8 would take
    those NULs as valid characters."""
    head = data[:UTF16_SNIFF_BYTES]
    if b"\x00" not in head:
        return None
    from charset_normalizer import from_bytes

    # an even length; a cut surrogate pair at the end of the sniffed part would spoil it
    for sample in (head[: len(head) // 2 * 2], head[: len(head) // 2 * 2 - 2]):
        best = from_bytes(sample).best()
        if best is not None:
            return _UTF16.get(best.encoding)
    return None


def decode_text(raw: bytes, name: str = "input") -> str:
    """Decode a text file: BOM, then UTF-16 without a BOM, then UTF-8, then detection. A text
    whose BOM its bytes contradict, or whose encoding cannot be detected, is a
    :class:`DecodeInputError`."""
    if found := bom_encoding(raw):
        encoding, length = found
        try:
            return raw[length:].decode(encoding)
        except UnicodeDecodeError as exc:
            raise DecodeInputError(f"{name}: invalid {encoding} text ({exc})") from exc
    if utf16 := bomless_utf16(raw):
        try:
            return raw.decode(utf16)
        except UnicodeDecodeError as exc:
            raise DecodeInputError(f"{name}: invalid {utf16} text ({exc})") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    detected = detect_encoding(raw)
    if detected is None:
        raise DecodeInputError(f"{name}: could not detect the text encoding")
    return raw.decode(detected, errors="replace")
