"""WARC 1.1 records of one HTTP exchange, built byte for byte.

The request and response blocks are the bytes that crossed the connection (after TLS
decryption), as ``TappedStream`` captured them; nothing of them is parsed or re-serialised.
A 304 becomes a ``revisit`` record (profile *server-not-modified*) whose block is the 304
response itself. The WARC header fields are ours; besides the standard ones every record
carries ``Newsledger-Fetch-Kind`` (html, feed, robots, any) and ``Newsledger-Requested-URI``
(the URL the fetch asked for, before redirects: a story's identity), which other tools ignore.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WARC_VERSION = "WARC/1.1"
REVISIT_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
KIND_FIELD = "Newsledger-Fetch-Kind"
REQUESTED_FIELD = "Newsledger-Requested-URI"
GZIP_LEVEL = 6
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? +(\d{3})")


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange as captured on the wire."""

    target_uri: str
    """The URL of this request (this redirect hop)."""
    requested_uri: str
    """The URL the fetch asked for (the first hop)."""
    kind: str
    started: float
    """When the request began to be written (seconds since the epoch): the WARC-Date."""
    ip_address: str | None
    request: bytes
    response: bytes
    truncated: str | None = None
    """WARC-Truncated reason when the response was not read to its end: length (over the
    size cap), time (the deadline), disconnect, unspecified (a body not wanted, e.g. the
    wrong content type, left unread)."""


@dataclass(frozen=True)
class WarcLocation:
    """Where an exchange's records are: the request record at ``request_offset`` is followed
    by the response (or revisit) record at ``offset``, ``length`` bytes long (gzip member)."""

    file: str
    """The file name, relative to the archive folder."""
    request_offset: int
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "request_offset": self.request_offset,
            "offset": self.offset,
            "length": self.length,
        }


def warc_date(epoch: float) -> str:
    """WARC 1.1 date with microseconds (UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha1_digest(data: bytes) -> str:
    """``sha1:<base32>``, the labelled digest WARC tools (warcio, pywb) expect."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def response_status(response: bytes) -> int | None:
    """The status code of a captured response (None when its status line is incomplete)."""
    match = _STATUS_LINE.match(response)
    return int(match.group(1)) if match else None


def http_payload(block: bytes) -> bytes | None:
    """What follows the header block of an HTTP message (None when the headers are cut)."""
    match = _HEADER_END.search(block)
    return block[match.end() :] if match else None


def _field(value: str) -> str:
    """A header value on one line: CR, LF and other controls percent-encoded."""
    return "".join(f"%{ord(c):02X}" if ord(c) < 32 or ord(c) == 127 else c for c in value)


def warc_record(
    record_type: str, fields: list[tuple[str, str]], block: bytes, content_type: str
) -> bytes:
    """One uncompressed WARC record: version line, ``fields`` (WARC-Type first), the
    Content-Type, the block digest and Content-Length, the block, then CRLF CRLF."""
    lines = [WARC_VERSION, f"WARC-Type: {record_type}"]
    lines += [f"{name}: {_field(value)}" for name, value in fields]
    lines += [
        f"Content-Type: {content_type}",
        f"WARC-Block-Digest: {sha1_digest(block)}",
        f"Content-Length: {len(block)}",
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + block + b"\r\n\r\n"


def exchange_records(exchange: Exchange) -> tuple[bytes, bytes]:
    """The (request, response-or-revisit) records of ``exchange``, uncompressed."""
    date = warc_date(exchange.started)
    response_id = record_id()
    common = [
        ("WARC-Date", date),
        ("WARC-Target-URI", exchange.target_uri),
    ]
    if exchange.ip_address:
        common.append(("WARC-IP-Address", exchange.ip_address))
    ours = [(KIND_FIELD, exchange.kind), (REQUESTED_FIELD, exchange.requested_uri)]
    fields = [("WARC-Record-ID", response_id), *common]
    status = response_status(exchange.response)
    if status == 304:
        record_type = "revisit"
        fields.append(("WARC-Profile", REVISIT_NOT_MODIFIED))
    else:
        record_type = "response"
        payload = http_payload(exchange.response)
        if payload is not None:
            fields.append(("WARC-Payload-Digest", sha1_digest(payload)))
    if exchange.truncated:
        fields.append(("WARC-Truncated", exchange.truncated))
    response = warc_record(
        record_type, fields + ours, exchange.response, "application/http; msgtype=response"
    )
    request = warc_record(
        "request",
        [("WARC-Record-ID", record_id()), *common, ("WARC-Concurrent-To", response_id), *ours],
        exchange.request,
        "application/http; msgtype=request",
    )
    return request, response


def warcinfo_record(filename: str, software: str) -> bytes:
    """The ``warcinfo`` record that opens every file."""
    info = (
        f"software: {software}\r\n"
        "format: WARC File Format 1.1\r\n"
        "conformsTo: https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/\r\n"
        "description: every HTTP exchange of newsledger's web path, bytes as received\r\n"
    ).encode()
    fields = [
        ("WARC-Record-ID", record_id()),
        ("WARC-Date", warc_date(datetime.now(UTC).timestamp())),
        ("WARC-Filename", filename),
    ]
    return warc_record("warcinfo", fields, info, "application/warc-fields")


def gzip_member(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """``data`` as one complete gzip member (a ``.warc.gz`` holds one per record)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def read_member(path: Path, offset: int, length: int) -> bytes:
    """The ``length`` compressed bytes at ``offset`` of ``path``."""
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(length)
    if len(data) != length:
        raise ValueError(f"{path.name}: {length} bytes at {offset} are not all there")
    return data


def read_record_at(folder: Path, file: str, offset: int, length: int) -> Any:
    """The warcio record (an ``ArcWarcRecord``, its stream read) stored at a location; its
    content is in ``.raw`` (the block after the HTTP headers) for convenience."""
    from warcio.archiveiterator import ArchiveIterator

    data = read_member(folder / file, offset, length)
    for record in ArchiveIterator(io.BytesIO(data)):
        record.raw = record.raw_stream.read()
        return record
    raise ValueError(f"no WARC record at {file}:{offset}")


def warc_columns(locations: tuple[WarcLocation, ...]) -> dict[str, Any]:
    """The fetch row's WARC columns (migration 013) for a fetch's exchanges."""
    if not locations:
        return {}
    last = locations[-1]
    return {
        "warc_file": last.file,
        "warc_request_offset": last.request_offset,
        "warc_offset": last.offset,
        "warc_length": last.length,
        "warc_exchanges": [location.as_dict() for location in locations],
    }
