"""Bounded decompression shared by the file loader (``.gz`` files) and the fetcher (gzip and
deflate bodies): never more than ``limit + 1`` output bytes held, whatever a compression bomb
expands to."""

from __future__ import annotations

import zlib

from newsledger.tasks.errors import CompressedStreamTruncated, DecompressedTooLarge

GZIP_WBITS = 16 + zlib.MAX_WBITS


def inflate_bounded(data: bytes, limit: int, *, wbits: int, multi_member: bool) -> bytes:
    """zlib/gzip/deflate ``data`` decompressed, at most ``limit`` bytes (else
    ``DecompressedTooLarge``).
    With ``multi_member`` every gzip member is read (``cat a.gz b.gz``, as gunzip does);
    trailing bytes after the last member are ignored. A stream that ends early raises
    ``CompressedStreamTruncated``; corrupt data raises ``zlib.error``."""
    out = bytearray()
    while True:
        decoder = zlib.decompressobj(wbits)
        # max_length stops inflating once the budget is full; hitting it means "too large".
        out += decoder.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise DecompressedTooLarge
        if not decoder.eof:
            raise CompressedStreamTruncated("the compressed stream is truncated")
        data = decoder.unused_data
        if not (multi_member and data.startswith(b"\x1f\x8b")):
            return bytes(out)
