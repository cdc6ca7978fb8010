"""Repair of a DuckDB file whose metadata block was torn by a killed writer.

DuckDB 1.5.5 keeps its catalog and row-group pointers in 256 KiB metadata blocks of 64
sub-blocks each. A checkpoint writes new metadata into the *free* sub-blocks of a block whose
other sub-blocks still belong to the last durable checkpoint (the tables it did not change), and
writes that whole block back in place. When that write is cut short (a ``kill -9`` lands in the
``pwrite``, which Linux ends early on a fatal signal; or the power goes), the block holds part
old, part new bytes under one checksum, and DuckDB refuses the whole file at open:
``Corrupt database file: computed checksum C does not match stored checksum S in block at
location L``. The ledger is lost although no byte the durable checkpoint needs has changed: the
live sub-blocks are copied unchanged into the buffer that is written back, so old and new bytes
agree wherever that checkpoint reads. ``tests/benchmarks/repro_duckdb_torn_metadata.py``
reproduces it with plain DuckDB (a torn write of such a block: 23 of 106 tears refused).

:func:`repair` therefore sets the block's stored checksum to the one DuckDB computed, after
checking the message against the file's own headers, and records the change (location, old
and new checksum) in ``<ledger>.repairs.jsonl`` first, so it can be undone. The caller then
opens the file again and confirms with :func:`is_metadata_block` that the block is a metadata
block of the durable checkpoint; if it is not (a damaged *data* block: disk damage, not a torn
checkpoint), :func:`undo` writes the old checksum back and the ledger is refused as before.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import duckdb
from newsledger.tasks.values import utc_now

TORN_BLOCK_MESSAGE = re.compile(
    r"Corrupt database file: computed checksum (?P<computed>\d+) does not match stored "
    r"checksum (?P<stored>\d+) in block at location (?P<location>\d+)"
)

# DuckDB's file layout: a main header, then two database headers (the one with the higher
# iteration is current), each 4 KiB; blocks follow, each starting with its 8-byte checksum.
FILE_HEADER_SIZE = 4096
DATABASE_HEADER_OFFSETS = (4096, 8192)
FIRST_BLOCK_OFFSET = 3 * 4096
MAGIC = b"DUCK"
MAGIC_OFFSET = 8
# A database header: checksum, then iteration, meta_block, free_list, block_count,
# block_alloc_size (little-endian 64-bit each).
DATABASE_HEADER = struct.Struct("<QQqqQQ")
CHECKSUM = struct.Struct("<Q")


@dataclass(frozen=True)
class TornBlock:
    """A block DuckDB refused for its checksum, checked against the file's headers."""

    location: int
    block_id: int
    stored: int
    computed: int


@dataclass(frozen=True)
class _DatabaseHeader:
    iteration: int
    block_count: int
    block_alloc_size: int


def repairs_log(path: Path) -> Path:
    """The JSON-lines record of the checksums :func:`repair` changed in the ledger ``path``."""
    return Path(f"{path}.repairs.jsonl")


def torn_block(path: Path, error: BaseException) -> TornBlock | None:
    """The block ``error`` names, when it is a checksum refusal of a block of ``path`` whose
    stored checksum is still the one DuckDB read; None for any other error."""
    match = TORN_BLOCK_MESSAGE.search(str(error))
    if not match:
        return None
    location = int(match["location"])
    stored, computed = int(match["stored"]), int(match["computed"])
    try:
        with path.open("rb") as file:
            head = file.read(FIRST_BLOCK_OFFSET)
            file.seek(location)
            current = file.read(CHECKSUM.size)
    except OSError:
        return None
    if len(head) < FIRST_BLOCK_OFFSET or head[MAGIC_OFFSET : MAGIC_OFFSET + 4] != MAGIC:
        return None
    headers = [_database_header(head, offset) for offset in DATABASE_HEADER_OFFSETS]
    latest = max(headers, key=lambda header: header.iteration)
    size = latest.block_alloc_size
    if size <= 0 or location < FIRST_BLOCK_OFFSET or (location - FIRST_BLOCK_OFFSET) % size:
        return None
    block_id = (location - FIRST_BLOCK_OFFSET) // size
    if block_id >= max(header.block_count for header in headers):
        return None
    if len(current) != CHECKSUM.size or CHECKSUM.unpack(current)[0] != stored:
        return None
    return TornBlock(location=location, block_id=block_id, stored=stored, computed=computed)


def _database_header(head: bytes, offset: int) -> _DatabaseHeader:
    _, iteration, _, _, block_count, alloc_size = DATABASE_HEADER.unpack_from(head, offset)
    return _DatabaseHeader(iteration, block_count, alloc_size)


def repair(path: Path, block: TornBlock) -> None:
    """Record ``block`` in the repairs log, then store its computed checksum in the file. Two
    processes repairing at once serialise on the log's lock; the second finds the block done."""
    with repairs_log(path).open("a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        with path.open("r+b") as file:
            file.seek(block.location)
            if CHECKSUM.unpack(file.read(CHECKSUM.size))[0] != block.stored:
                return  # repaired meanwhile by another process
            entry = {"at": utc_now().isoformat(), "undone": False, **asdict(block)}
            log.write(json.dumps(entry) + "\n")
            log.flush()
            os.fsync(log.fileno())
            _write_checksum(file, block.location, block.computed)


def undo(path: Path, block: TornBlock) -> None:
    """Put back the checksum :func:`repair` replaced, and say so in the repairs log."""
    with repairs_log(path).open("a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        with path.open("r+b") as file:
            _write_checksum(file, block.location, block.stored)
        entry = {"at": utc_now().isoformat(), "undone": True, **asdict(block)}
        log.write(json.dumps(entry) + "\n")
        log.flush()
        os.fsync(log.fileno())


def _write_checksum(file: BinaryIO, location: int, checksum: int) -> None:
    file.seek(location)
    file.write(CHECKSUM.pack(checksum))
    file.flush()
    os.fsync(file.fileno())


def is_metadata_block(conn: duckdb.DuckDBPyConnection, block: TornBlock) -> bool:
    """Whether the repaired block is one of the open file's metadata blocks (the only kind a
    checkpoint rewrites in place)."""
    row = conn.execute(
        "SELECT count(*) AS found FROM pragma_metadata_info() WHERE block_id = ?",
        [block.block_id],
    ).fetchone()
    return bool(row and row[0])
