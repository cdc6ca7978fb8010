"""Load stage: turn the paths a user gives (files, folders, globs) into raw source documents.

``discover_files`` expands arguments into candidate files (or failures for paths that match
nothing); ``read_document`` reads one file into a :class:`SourceDocument`, refusing
unsupported, empty, binary, oversized and undecodable files with an :class:`InputError` that
says why. Identity of a local file: ``file:`` + its path relative to the folder given (or
``Settings.files_root``), or the ``url:`` stated in a text file's header.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import os
import re
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG

from newsledger.tasks.compression import GZIP_WBITS, inflate_bounded
from newsledger.tasks.encoding import bomless_utf16
from newsledger.tasks.errors import (
    BinaryInputError,
    CompressedStreamTruncated,
    DecodeInputError,
    DecompressedTooLarge,
    EmptyInputError,
    IdentityCollisionError,
    InputError,
    MissingInputError,
    NotRegularFileError,
    OversizedInputError,
    UndecodableNameError,
    UnreadableInputError,
    UnresolvablePathError,
    UnsupportedInputError,
)
from newsledger.tasks.models import FailedInput, LastObservation, SourceDocument, SourceKind

# Suffix (lower-case, longest first) → kind of document.
SUPPORTED_SUFFIXES: dict[str, SourceKind] = {
    ".html.gz": "html",
    ".htm.gz": "html",
    ".txt.gz": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".text": "text",
}
GLOB_CHARACTERS = re.compile(r"[*?\[]")
HEADER_URL = re.compile(r"^\s*url:\s*(\S+)\s*$", re.IGNORECASE)
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class FileInput:
    """One candidate file and the folder its identity is relative to."""

    path: Path
    root: Path
    explicit: bool  # named directly (or by a glob), not found by walking a folder
    last: LastObservation | None = None  # how this path looked when last ingested
    identity: str = ""  # file identity, computed once by discovery ("" → compute when read)

    @property
    def display(self) -> str:
        return str(self.path)


@dataclass
class Discovery:
    """What a list of path arguments expanded to."""

    inputs: list[FileInput] = field(default_factory=list)
    failures: list[FailedInput] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # files of other types inside folders


def document_kind(path: Path) -> SourceKind | None:
    name = path.name.lower()
    for suffix, kind in SUPPORTED_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _walk(folder: Path) -> Iterator[tuple[Path, Path | None]]:
    """Files under ``folder`` (sorted, hidden ones skipped, symlinked folders not followed),
    each with its resolved path when it is known without asking the file system: os.walk does
    not descend into symlinks, so only a file that is itself a symlink needs resolving."""
    real_folder = folder.resolve()
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        real_current = real_folder / os.path.relpath(current, folder)
        with os.scandir(current) as entries:
            links = {entry.name for entry in entries if entry.is_symlink()}
        for name in sorted(files):
            if not name.startswith("."):
                resolved = None if name in links else real_current / name
                yield Path(current) / name, resolved


def _glob_root(pattern: str) -> Path:
    """The deepest folder of a glob pattern that has no glob characters."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if GLOB_CHARACTERS.search(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def discover_files(arguments: Sequence[str], files_root: Path | None = None) -> Discovery:
    """Expand files, folders (recursively) and glob patterns into candidate files.

    Files met while walking a folder whose type we do not read are listed in ``skipped`` (a
    folder of articles may hold a feed list or a README); a file named explicitly with an
    unsupported type becomes a failure when it is read."""
    discovery = Discovery()
    seen: set[Path] = set()
    identities: dict[str, Path] = {}

    def add(path: Path, root: Path, explicit: bool, resolved: Path | None = None) -> None:
        if printable_path(str(path)) != str(path):
            # Not valid UTF-8: the name could not be stored in a VARCHAR (nor shown); record it
            # with its bytes escaped (\xe9) instead of letting it crash the run.
            name = printable_path(str(path))
            error: InputError = UndecodableNameError(
                f"{name}: the file name is not valid UTF-8; rename the file to read it"
            )
            discovery.failures.append(FailedInput(name, error.stage, error.code, error.message))
            return
        try:
            resolved = resolved or path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a dangling link
            error = UnresolvablePathError(
                f"{path}: cannot resolve ({getattr(exc, 'strerror', None) or exc})"
            )
            discovery.failures.append(
                FailedInput(str(path), error.stage, error.code, error.message)
            )
            return
        if resolved in seen:
            return
        seen.add(resolved)
        # Two different files with one identity (a/x.html and b/x.html given as a/ and b/)
        # would be stored as one story flipping between them on every run: refuse the second.
        identity = _identity_of(resolved, files_root or root)
        if identity in identities:
            error = IdentityCollisionError(
                f"{path}: same identity {identity!r} as {identities[identity]} (a file's "
                "identity is its path relative to the folder given); ingest the folders in "
                "separate runs or set NEWSLEDGER_FILES_ROOT"
            )
            failure = FailedInput(str(path), error.stage, error.code, error.message)
            discovery.failures.append(failure)
            return
        identities[identity] = path
        discovery.inputs.append(FileInput(path, files_root or root, explicit, identity=identity))

    for argument in arguments:
        path = Path(argument).expanduser()
        if path.is_dir():
            for found, resolved in _walk(path):
                if document_kind(found) is None:
                    discovery.skipped.append(found)
                else:
                    add(found, path, explicit=False, resolved=resolved)
        elif path.is_file() or (os.path.lexists(path) and not path.is_dir()):
            # A FIFO, device or symlink loop named on the command line is there: it gets its
            # own reason when resolved or read, not "no such file".
            add(path, path.parent, explicit=True)
        elif GLOB_CHARACTERS.search(argument):
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
            files = [m for m in matches if m.is_file() and not _is_hidden(m)]
            if not files:
                discovery.failures.append(_missing(argument, "the pattern matches no file"))
            for match in files:
                add(match, _glob_root(argument), explicit=True)
        else:
            discovery.failures.append(_missing(argument, "no such file or folder"))
    return discovery


def printable_path(name: str) -> str:
    """``name`` with undecodable bytes of a file name (surrogate escapes) as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _missing(argument: str, why: str) -> FailedInput:
    argument = printable_path(argument)
    error = MissingInputError(f"{argument}: {why}")
    return FailedInput(argument, error.stage, error.code, error.message)


@lru_cache(maxsize=64)
def _resolved_root(root: Path) -> Path:
    return root.resolve()


def file_identity(path: Path, root: Path) -> str:
    """``file:`` + the path relative to ``root`` in POSIX form (stable across checkouts)."""
    return _identity_of(path.resolve(), root)


def _identity_of(resolved: Path, root: Path) -> str:
    base = _resolved_root(root)
    try:
        relative = resolved.relative_to(base)
    except ValueError:
        relative = Path(os.path.relpath(resolved, base))
    return "file:" + relative.as_posix()


def _gunzip_bounded(raw: bytes, limit: int, name: str) -> bytes:
    """A ``.gz`` file's content (every member, like gunzip), at most ``limit`` bytes."""
    try:
        return inflate_bounded(raw, limit, wbits=GZIP_WBITS, multi_member=True)
    except zlib.error as exc:
        raise DecodeInputError(f"{name}: not a valid gzip file ({exc})") from exc
    except DecompressedTooLarge:
        raise OversizedInputError(
            f"{name}: decompresses to more than {limit:,} bytes (limit NEWSLEDGER_MAX_FILE_BYTES)"
        ) from None
    except CompressedStreamTruncated:
        raise DecodeInputError(f"{name}: truncated gzip file") from None


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB (outside UTF-16/32 text, with or without a BOM) mean a
    binary file."""
    head = data[:SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in head and bomless_utf16(head) is None


def text_head(raw: bytes, size: int = 4096) -> str:
    """The start of a text file decoded leniently (for its header lines), UTF-16 included."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw[: size + 2].decode("utf-16", "replace")
    return raw[:size].decode(bomless_utf16(raw) or "utf-8", "replace")


RACY_WINDOW_NS = 2_000_000_000  # a file changed this recently may change again unnoticed


def file_signature(stat: os.stat_result, now_ns: int | None = None) -> str | None:
    """``size:mtime_ns:ctime_ns:inode`` of a file, or None when it was modified less than two
    seconds ago: within one tick of the file system's clock a second write could leave every
    field as it was (git calls such index entries "racy" and re-reads them too)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    if now_ns - max(stat.st_mtime_ns, stat.st_ctime_ns) < RACY_WINDOW_NS:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def current_signature(path: Path) -> str | None:
    """The file's signature now (None when it cannot be stat'ed or was just modified)."""
    try:
        return file_signature(path.stat())
    except OSError:
        return None


def unchanged_since_last(item: FileInput, kind: SourceKind) -> SourceDocument | None:
    """The document of a file whose stat signature equals its last observation's, without
    reading it (``raw`` empty, ``raw_hash`` as observed then), or None when it must be read.

    The identity must be the one it had: a file's identity depends on the folder it was given
    with, while a text file's ``url:`` header (same bytes, same header) decides its own."""
    last = item.last
    if (
        last is None
        or last.file_signature is None
        or last.raw_hash is None
        or last.identity is None
        or current_signature(item.path) != last.file_signature
    ):
        return None
    header_identity = kind == "text" and not last.identity.startswith("file:")
    if last.identity != item.identity and not header_identity:
        return None
    return SourceDocument(
        identity=last.identity,
        source=str(item.path),
        kind=kind,
        raw=b"",
        raw_hash=last.raw_hash,
        url=last.identity if header_identity else None,
        file_signature=last.file_signature,
    )


def reread_file(document: SourceDocument, max_bytes: int) -> SourceDocument:
    """Read again a file that travelled without its bytes (see :func:`unchanged_since_last`)."""
    path = Path(document.source)
    identity = document.identity if document.identity.startswith("file:") else ""
    return read_document(FileInput(path, path.parent, True, identity=identity), max_bytes)


def read_document(item: FileInput, max_bytes: int) -> SourceDocument:
    """Read one file into a :class:`SourceDocument` or raise an :class:`InputError`."""
    path = item.path
    kind = document_kind(path)
    if kind is None:
        suffix = "".join(path.suffixes[-2:]) or "(none)"
        raise UnsupportedInputError(
            f"{path}: unsupported file type {suffix}; newsledger reads "
            + ", ".join(sorted(SUPPORTED_SUFFIXES))
        )
    try:
        # Only regular files are read: a FIFO, device or socket (or a symlink to one, like
        # /dev/zero) would block or never end. O_NONBLOCK keeps the open itself from blocking
        # on a FIFO swapped in after a check; fstat then decides on what was opened.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            stat = os.fstat(descriptor)  # before reading: a write after it changes the signature
            if not S_ISREG(stat.st_mode):
                raise NotRegularFileError(
                    f"{path}: not a regular file (a FIFO, device or socket); not read"
                )
            size = stat.st_size
            if size > max_bytes:
                raise OversizedInputError(
                    f"{path}: {size:,} bytes is over the limit of {max_bytes:,} "
                    "(NEWSLEDGER_MAX_FILE_BYTES)"
                )
            os.set_blocking(descriptor, True)
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                raw = handle.read(max_bytes + 1)  # bounded even if the size stat gave lies
        finally:
            os.close(descriptor)
        if len(raw) > max_bytes:
            raise OversizedInputError(
                f"{path}: more than {max_bytes:,} bytes (limit NEWSLEDGER_MAX_FILE_BYTES)"
            )
    except OSError as exc:
        raise UnreadableInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if path.name.lower().endswith(".gz"):
        raw = _gunzip_bounded(raw, max_bytes, str(path))
    if not raw or raw.isspace():  # no stripped copy of the whole file
        raise EmptyInputError(f"{path}: the file is empty")
    if looks_binary(raw):
        raise BinaryInputError(f"{path}: binary content, not a {kind} article")
    identity = item.identity or file_identity(path, item.root)
    url: str | None = None
    if kind == "text":
        # The header is ASCII in practice; a lossy decode of the head is enough to find it.
        url = header_url(text_head(raw))
        if url:
            identity = url
    return SourceDocument(
        identity=identity,
        source=str(path),
        kind=kind,
        raw=raw,
        raw_hash=hashlib.sha256(raw).hexdigest(),
        url=url,
        file_signature=file_signature(stat),
    )


def header_url(text: str) -> str | None:
    """The normalised ``url:`` of a text file's header block, if it states one."""
    for line in text.lstrip("\ufeff").splitlines():
        if not line.strip():
            return None
        match = HEADER_URL.match(line)
        if match:
            from newsledger.tasks.urls import normalize_url

            return normalize_url(match.group(1))
    return None


def load_documents(
    items: Iterable[FileInput], max_bytes: int
) -> list[SourceDocument | FailedInput]:
    """Read many files; each becomes a document or a recorded failure, never an exception."""
    results: list[SourceDocument | FailedInput] = []
    for item in items:
        try:
            results.append(read_document(item, max_bytes))
        except InputError as error:
            results.append(FailedInput(item.display, error.stage, error.code, error.message))
    return results
