"""The error tree of newsledger. Every failure that is recorded carries a ``stage`` and a
short ``code``; its message is written for a person.

NewsledgerError
├── InputError                 stage "load": a local file that cannot become an article
│   ├── UnsupportedInputError      code "unsupported"  (file type we do not read)
│   ├── EmptyInputError            code "empty"
│   ├── BinaryInputError           code "binary"
│   ├── OversizedInputError        code "oversized"
│   ├── DecodeInputError           code "decode"       (bad gzip, undecodable text)
│   └── MissingInputError          code "missing"      (path or glob matches nothing)
├── ExtractionError            stage "clean": no article text could be extracted
├── FetchError                 stage "fetch": the web did not give us a usable page
│   ├── BlockedURLError            code "blocked"      (SSRF guard, bad scheme)
│   ├── RobotsDisallowedError      code "robots"
│   ├── HTTPStatusError            code "http_<status>"
│   ├── ResponseTooLargeError      code "too_large"    (raw or decompressed cap)
│   ├── FetchTimeoutError          code "timeout"
│   ├── TooManyRedirectsError      code "redirects"
│   ├── ContentTypeError           code "content_type"
│   └── ConnectionFailedError      code "connection"
├── FeedError                  stage "feed": a feed or the feed list is unusable
│   └── FeedListError              code "feed_list"    (malformed seeds/feeds.yaml entry)
│       └── FeedEntryRejectedError     code "feed_rejected" (an entry whose url is not http(s):
│                                      that entry is skipped and recorded, the rest polled)
├── StoreError                 stage "store"
│   └── DatabaseLockedError        code "locked"       (another process kept the file lock)
└── UsageError                 stage "cli": the command line asks for what cannot be done
                               (e.g. ``--output`` naming the ledger); the CLI exits with 2,
                               every other NewsledgerError with 1
"""

from __future__ import annotations


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


class ExtractionError(NewsledgerError):
    stage = "clean"
    code = "no_content"


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


class BlockedURLError(FetchError):
    code = "blocked"


class RobotsDisallowedError(FetchError):
    code = "robots"


class HTTPStatusError(FetchError):
    code = "http"


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


class FeedError(NewsledgerError):
    stage = "feed"
    code = "feed"


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


class UsageError(NewsledgerError):
    stage = "cli"
    code = "usage"
