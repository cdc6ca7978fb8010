"""The append-only WARC writer: size-rotated ``.warc.gz`` files, one gzip member per record,
no torn record after a crash.

Files are named ``newsledger-<UTC time>-<pid>-<serial>.warc.gz`` in the archive folder. A
writer holds an exclusive ``flock`` on the file it appends to (so two processes never append
to one file; ``kill -9`` releases it) and a marker ``<file>.open`` beside it while it is open.
A clean close syncs the file and removes the marker. At the next open (of any writer on the
folder) a marker whose file nobody holds means its writer died: the file is scanned member by
member and cut after its last complete record (:func:`trim_torn_tail`), then the marker goes.
A writer continues the newest file while it is under the size limit, else starts a new one.

Each exchange is two members (request, then response) appended with one ``write`` under a
lock; compressing them happens before, outside the lock, so writers on several threads
compress in parallel (zlib releases the GIL).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from newsledger.tasks.archive.records import (
    Exchange,
    WarcLocation,
    exchange_records,
    gzip_member,
    warcinfo_record,
)

log = logging.getLogger(__name__)

SUFFIX = ".warc.gz"
MARKER = ".open"
PREFIX = "newsledger-"
_SCAN_BLOCK = 1 << 20


def complete_length(path: Path) -> int:
    """The length of the longest prefix of ``path`` made of complete gzip members that each
    hold a WARC record: where a torn tail (a member cut by a crash) begins."""
    good = 0
    position = 0
    decompressor = zlib.decompressobj(31)
    head = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN_BLOCK):
            data = chunk
            while data:
                try:
                    out = decompressor.decompress(data)
                except zlib.error:
                    return good
                if len(head) < 5:
                    head += out[: 5 - len(head)]
                if not decompressor.eof:
                    position += len(data)
                    break
                used = len(data) - len(decompressor.unused_data)
                position += used
                if not head.startswith(b"WARC/"):
                    return good
                good = position
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(31)
                head = b""
    return good


def trim_torn_tail(path: Path) -> int:
    """Cut ``path`` after its last complete record; returns the bytes removed."""
    size = path.stat().st_size
    good = complete_length(path)
    if good < size:
        os.truncate(path, good)
        log.warning("%s: trimmed a torn record (%d bytes) left by a crash", path.name, size - good)
    return size - good


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def recover_folder(folder: Path) -> dict[str, int]:
    """Trim every file of ``folder`` whose writer died while it was open (a marker, and no
    lock held on the file); returns {file name: bytes removed}."""
    trimmed: dict[str, int] = {}
    if not folder.is_dir():
        return trimmed
    for marker in sorted(folder.glob(f"*{SUFFIX}{MARKER}")):
        path = marker.with_name(marker.name[: -len(MARKER)])
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            marker.unlink(missing_ok=True)
            continue
        try:
            if not _try_lock(fd):
                continue  # a live writer has it
            if marker.exists():  # not closed cleanly between the listing and the lock
                trimmed[path.name] = trim_torn_tail(path)
                marker.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return trimmed


class WarcWriter:
    """Appends exchanges to the archive folder; thread-safe; opens its file lazily."""

    def __init__(self, folder: Path, max_file_bytes: int, *, software: str) -> None:
        self.folder = folder
        self.max_file_bytes = max(1, max_file_bytes)
        self.software = software
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._name = ""
        self._size = 0
        self._serial = 0
        self.records_written = 0
        self.bytes_written = 0

    def write(self, exchange: Exchange) -> WarcLocation:
        """Append the request and response records of ``exchange``; returns where they are."""
        request, response = (gzip_member(r) for r in exchange_records(exchange))
        with self._lock:
            fd = self._current()
            offset = self._size
            _write_all(fd, request + response)
            self._size += len(request) + len(response)
            self.records_written += 2
            self.bytes_written += len(request) + len(response)
            location = WarcLocation(self._name, offset, offset + len(request), len(response))
            if self._size >= self.max_file_bytes:
                self._close_file()
        return location

    def close(self) -> None:
        """Sync and close the current file (removing its marker)."""
        with self._lock:
            self._close_file()

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- files --------------------------------------------------------------------------

    def _current(self) -> int:
        if self._fd is not None:
            return self._fd
        self.folder.mkdir(parents=True, exist_ok=True)
        recover_folder(self.folder)
        existing = sorted(self.folder.glob(f"{PREFIX}*{SUFFIX}"))
        if existing and existing[-1].stat().st_size < self.max_file_bytes:
            fd = os.open(existing[-1], os.O_WRONLY | os.O_APPEND)
            marker = existing[-1].with_name(existing[-1].name + MARKER)
            if _try_lock(fd) and not marker.exists():
                return self._adopt(fd, existing[-1])
            os.close(fd)  # another writer has it, or died with it (recovered next open)
        while True:
            self._serial += 1
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
            path = self.folder / f"{PREFIX}{stamp}-{os.getpid()}-{self._serial:05d}{SUFFIX}"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            if not _try_lock(fd):  # another writer took the new file first: very unlikely
                os.close(fd)
                time.sleep(0.001)
                continue
            self._adopt(fd, path)
            info = gzip_member(warcinfo_record(path.name, self.software))
            _write_all(fd, info)
            self._size += len(info)
            return fd

    def _adopt(self, fd: int, path: Path) -> int:
        path.with_name(path.name + MARKER).touch()
        self._fd, self._name, self._size = fd, path.name, os.fstat(fd).st_size
        return fd

    def _close_file(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
            (self.folder / (self._name + MARKER)).unlink(missing_ok=True)
        finally:
            os.close(fd)  # releases the flock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def open_writer_for(folder: Path, max_file_bytes: int, software: str) -> WarcWriter:
    """A writer on ``folder`` (the file is opened, and crashed files trimmed, at the first
    record)."""
    return WarcWriter(folder, max_file_bytes, software=software)
