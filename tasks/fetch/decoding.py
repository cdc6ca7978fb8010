"""Body decoding: Content-Type parameters, and Content-Encoding undone under a size cap
(httpx's own decoding does not stop compression bombs)."""

from __future__ import annotations

import zlib

import brotli
from newsledger.tasks.compression import GZIP_WBITS, inflate_bounded
from newsledger.tasks.errors import (
    CompressedStreamTruncated,
    ContentTypeError,
    DecompressedTooLarge,
    ResponseTooLargeError,
)


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """``("text/html", "utf-8")`` from ``"text/html; charset=UTF-8"``; Nones when absent."""
    if not value:
        return None, None
    mime, _, parameters = value.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, raw = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = raw.strip().strip("\"'").lower() or None
    return mime.strip().lower() or None, charset


def decode_body(raw: bytes, content_encoding: str | None, limit: int, url: str = "") -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, br, identity; in reverse order of listing)
    without ever producing more than ``limit`` bytes (ResponseTooLargeError beyond that)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    data = raw
    for coding in reversed(codings):
        try:
            if coding in ("gzip", "x-gzip"):
                data = inflate_bounded(data, limit, wbits=GZIP_WBITS, multi_member=True)
            elif coding == "deflate":
                data = inflate_bounded(data, limit, wbits=_deflate_wbits(data), multi_member=False)
            elif coding == "br":
                data = _unbrotli(data, limit)
            elif coding != "identity":
                raise ContentTypeError(f"unsupported Content-Encoding {coding!r} from {url}")
        except DecompressedTooLarge:
            raise ResponseTooLargeError(
                f"body of {url} decompresses ({coding}) to more than {limit} bytes"
            ) from None
        except (zlib.error, brotli.error, CompressedStreamTruncated) as exc:
            raise ContentTypeError(f"corrupt {coding} body from {url}: {exc}") from exc
    if len(data) > limit:
        raise ResponseTooLargeError(f"body of {url} is larger than {limit} bytes")
    return data


def _deflate_wbits(data: bytes) -> int:
    """HTTP "deflate" should be zlib-wrapped, but some servers send raw deflate."""
    has_zlib_header = (
        len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
    )
    return zlib.MAX_WBITS if has_zlib_header else -zlib.MAX_WBITS


def _unbrotli(data: bytes, limit: int) -> bytes:
    """Bounded brotli decoding using ``output_buffer_limit`` (brotli >= 1.2)."""
    decoder = brotli.Decompressor()
    out = bytearray(decoder.process(data, output_buffer_limit=limit + 1))
    while len(out) <= limit and not decoder.is_finished() and not decoder.can_accept_more_data():
        chunk = decoder.process(b"", output_buffer_limit=limit + 1 - len(out))
        if not chunk:
            break
        out += chunk
    if len(out) > limit:
        raise DecompressedTooLarge
    if not decoder.is_finished():
        raise CompressedStreamTruncated("the compressed stream is truncated")
    return bytes(out)
