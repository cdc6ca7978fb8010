"""The error tree of newsledger: every error class it defines, and every error code a class.
A failure that is recorded carries the ``stage`` and ``code`` of its class; its message is
written for a person. (The httpx ``_exceptions.py`` style: one module, one documented tree.)

NewsledgerError                stage "pipeline", code "error" (the base of all)
├── InputError                 stage "load", code "input": a local file that cannot become an
│                              article
│   ├── UnsupportedInputError      code "unsupported"  (file type we do not read)
│   ├── EmptyInputError            code "empty"
│   ├── BinaryInputError           code "binary"
│   ├── OversizedInputError        code "oversized"
│   ├── DecodeInputError           code "decode"       (bad gzip, undecodable text)
│   ├── MissingInputError          code "missing"      (path or glob matches nothing)
│   ├── UnreadableInputError       code "unreadable"   (the OS refused to read it)
│   ├── NotRegularFileError        code "not_regular_file" (a FIFO, device or socket)
│   ├── UndecodableNameError       code "undecodable_name" (file name not valid UTF-8)
│   ├── UnresolvablePathError      code "unresolvable_path" (symlink loop, dangling link)
│   └── IdentityCollisionError     code "identity_collision" (two files, one identity)
├── ExtractionError            stage "clean", code "no_content": no article text extracted
│   ├── EmptyExtractionError       code "empty_extraction" (too few letters to be a story)
│   ├── TooManyElementsError       code "too_many_elements" (more HTML elements than
│   │                              NEWSLEDGER_EXTRACT_MAX_ELEMENTS: refused before extraction)
│   └── ExtractorStartError        code "extractor_start" (an extraction worker cannot start)
├── FetchError                 stage "fetch", code "fetch": the web gave no usable page
│   ├── BlockedURLError            code "blocked"      (SSRF guard, bad scheme)
│   ├── RobotsDisallowedError      code "robots"
│   ├── HTTPStatusError            code "http_<status>" ("http" without a status)
│   ├── ResponseTooLargeError      code "too_large"    (raw or decompressed cap)
│   ├── FetchTimeoutError          code "timeout"
│   ├── TooManyRedirectsError      code "redirects"
│   ├── ContentTypeError           code "content_type"
│   ├── ConnectionFailedError      code "connection"
│   ├── UnexpectedFetchError       code "unexpected"   (a bug while fetching one URL)
│   └── NotArchivedError           code "not_archived" (reprocess: raw page not archived)
├── FeedError                  stage "feed", code "feed": a feed or the feed list is unusable
│   ├── EmptyFeedError             code "empty"        (empty response body)
│   ├── NotAFeedError              code "not_a_feed"   (an HTML page, no feed root)
│   ├── IllFormedFeedError         code "ill_formed"   (no recoverable entries)
│   └── FeedListError              code "feed_list"    (malformed seeds/feeds.yaml entry)
│       └── FeedEntryRejectedError     code "feed_rejected" (an entry whose url is not http(s):
│                                      that entry is skipped and recorded, the rest polled)
├── StoreError                 stage "store", code "store"
│   └── DatabaseLockedError        code "locked"       (another process kept the file lock)
├── ArticleNotFoundError       stage "query", code "not_found": no story for a reference
├── QueryError                 stage "query", code "sql": `newsledger sql` / `export`
│   ├── QueryTimeout               code "timeout"
│   ├── QueryMemory                code "memory"
│   └── QueryOutputError           code "output"       (also a UsageError: exit 2)
├── SearchError                stage "search", code "search": the fts extension
├── PrefectError               stage "prefect", code "prefect"
│   ├── ServeConfigError           code "serve_config" (prefect.yaml missing or unservable)
│   └── PrefectAPIError            code "prefect_api"  (the server refused a request)
└── UsageError                 stage "cli", code "usage": the command line asks for what cannot
                               be done
                               (e.g. ``--output`` naming the ledger); the CLI exits with 2,
                               every other NewsledgerError with 1

ExtractionPoolClosed           not a NewsledgerError on purpose (a RuntimeError): the run is
                               ending while a batch is being extracted; never a recorded
                               failure, it unwinds the run.
DecompressedTooLarge           not NewsledgerErrors on purpose (ValueErrors): the bounded
CompressedStreamTruncated      inflate of tasks/compression.py says why it stopped; the loader
                               and the fetcher turn them into their own recorded errors
                               (oversized / decode, too_large / content_type).
"""

from __future__ import annotations

from typing import Any


class NewsledgerError(Exception):
    """Base of every error newsledger raises on purpose."""

    stage: str = "pipeline"
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class InputError(NewsledgerError):
    stage = "load"
    code = "input"


class UnsupportedInputError(InputError):
    code = "unsupported"


class EmptyInputError(InputError):
    code = "empty"


class BinaryInputError(InputError):
    code = "binary"


class OversizedInputError(InputError):
    code = "oversized"


class DecodeInputError(InputError):
    code = "decode"


class MissingInputError(InputError):
    code = "missing"


class UnreadableInputError(InputError):
    code = "unreadable"


class NotRegularFileError(InputError):
    code = "not_regular_file"


class UndecodableNameError(InputError):
    code = "undecodable_name"


class UnresolvablePathError(InputError):
    code = "unresolvable_path"


class IdentityCollisionError(InputError):
    code = "identity_collision"


class ExtractionError(NewsledgerError):
    stage = "clean"
    code = "no_content"


class EmptyExtractionError(ExtractionError):
    code = "empty_extraction"


class TooManyElementsError(ExtractionError):
    code = "too_many_elements"


class ExtractorStartError(ExtractionError):
    code = "extractor_start"


class FetchError(NewsledgerError):
    stage = "fetch"
    code = "fetch"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.retryable = retryable
        self.warc: tuple[Any, ...] = ()
        """Where the exchanges of the failed fetch are in the WARC archive (``WarcLocation``
        values, in order), when any response came back at all."""


class BlockedURLError(FetchError):
    code = "blocked"


class RobotsDisallowedError(FetchError):
    code = "robots"


class HTTPStatusError(FetchError):
    """``code`` is ``http_<status>`` (``http_404``), from ``status``."""

    code = "http"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        if code is None and status is not None:
            code = f"http_{status}"
        super().__init__(message, code=code, status=status, retryable=retryable)


class ResponseTooLargeError(FetchError):
    code = "too_large"


class FetchTimeoutError(FetchError):
    code = "timeout"


class TooManyRedirectsError(FetchError):
    code = "redirects"


class ContentTypeError(FetchError):
    code = "content_type"


class ConnectionFailedError(FetchError):
    code = "connection"


class UnexpectedFetchError(FetchError):
    code = "unexpected"


class NotArchivedError(FetchError):
    code = "not_archived"


class FeedError(NewsledgerError):
    stage = "feed"
    code = "feed"


class EmptyFeedError(FeedError):
    code = "empty"


class NotAFeedError(FeedError):
    code = "not_a_feed"


class IllFormedFeedError(FeedError):
    code = "ill_formed"


class FeedListError(FeedError):
    code = "feed_list"


class FeedEntryRejectedError(FeedListError):
    code = "feed_rejected"

    def __init__(self, message: str, *, url: str, line: int) -> None:
        super().__init__(message)
        self.url = url
        self.line = line


class StoreError(NewsledgerError):
    stage = "store"
    code = "store"


class DatabaseLockedError(StoreError):
    code = "locked"


class ArticleNotFoundError(NewsledgerError):
    stage = "query"
    code = "not_found"


class QueryError(NewsledgerError):
    stage = "query"
    code = "sql"


class QueryTimeout(QueryError):
    code = "timeout"


class QueryMemory(QueryError):
    code = "memory"


class SearchError(NewsledgerError):
    stage = "search"
    code = "search"


class PrefectError(NewsledgerError):
    stage = "prefect"
    code = "prefect"


class ServeConfigError(PrefectError):
    """prefect.yaml is missing or declares something newsledger cannot serve."""

    code = "serve_config"


class PrefectAPIError(PrefectError):
    """The Prefect server refused (or did not answer) a request newsledger made."""

    code = "prefect_api"


class UsageError(NewsledgerError):
    stage = "cli"
    code = "usage"


class QueryOutputError(QueryError, UsageError):
    """An ``--output`` that may not be written (the ledger, a folder, an existing file)."""

    code = "output"


class ExtractionPoolClosed(RuntimeError):
    """The extraction pool was stopped (the run is ending) while a batch was being extracted."""


class DecompressedTooLarge(ValueError):
    """The decompressed data is over the limit (it was not decompressed further)."""


class CompressedStreamTruncated(ValueError):
    """The compressed stream ended early."""
