"""The WARC archive: every HTTP exchange of the web path (feeds, pages, robots.txt, each
redirect hop and retry, 304s as ``revisit`` records) as WARC 1.1 ``request`` + ``response``
records holding the bytes exactly as they crossed the connection, in size-rotated
``.warc.gz`` files (one gzip member per record).

- ``records``: building records byte for byte (warcio re-serialises HTTP headers when it
  writes, so records are built here and read back, checked and indexed with warcio);
- ``writer``: the append-only, size-rotated, crash-safe writer (a torn record at a file's end
  is trimmed at the next open);
- ``rebuild``: revisions rebuilt from the WARC files alone (``reprocess --from-warc``);
- ``export``: the records of a selection copied into a new archive (``export --format warc``).
"""

from newsledger.tasks.archive.records import (
    Exchange,
    WarcLocation,
    exchange_records,
    gzip_member,
    read_record_at,
    warc_columns,
)
from newsledger.tasks.archive.writer import (
    WarcWriter,
    complete_length,
    open_writer_for,
    recover_folder,
    trim_torn_tail,
)

__all__ = [
    "Exchange",
    "WarcLocation",
    "WarcWriter",
    "complete_length",
    "exchange_records",
    "gzip_member",
    "open_writer_for",
    "read_record_at",
    "recover_folder",
    "trim_torn_tail",
    "warc_columns",
]
