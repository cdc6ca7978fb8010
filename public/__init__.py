"""newsledger: every revision of every news story, in a DuckDB ledger.

The public Python API, in one place::

    import newsledger

    ledger = newsledger.open("data/newsledger.duckdb")
    ledger.stories(outlet="CNN", headline_changed=True).df()
    ledger.history("cnn-2025-09-02")            # an id, id prefix, URL or path
    print(ledger.diff("cnn-2025-09-02", 1, 2))  # [-old-]{+new+}
    ledger.search("ceasefire")                  # BM25 hits
    ledger.as_of("2025-09-02T12:00:00+00:00")
    ledger.sql("select outlet, count(*) from latest_revisions group by 1")

Every call opens the ledger read-only for just that call (a notebook never locks an ingest
out). Results are DuckDB relations on a private in-memory copy, or DataFrames with
``newsledger.open(path, frames="pandas")`` / ``frames="polars"``.

In the installed package this file is ``newsledger/__init__.py``; the rest of the package is
``newsledger.tasks`` (plain functions) and ``newsledger.flows`` (Prefect flows and the CLI).
"""

from newsledger.tasks.api import Frames, Ledger, open
from newsledger.tasks.diff import DiffPiece
from newsledger.tasks.errors import NewsledgerError
from newsledger.tasks.ledger import ArticleNotFoundError
from newsledger.tasks.query import QueryError
from newsledger.tasks.search import SearchHit
from newsledger.tasks.settings import Settings
from newsledger.tasks.webview.diffs import FieldChange, SideRow, StoryDiff

__all__ = [
    "ArticleNotFoundError",
    "DiffPiece",
    "FieldChange",
    "Frames",
    "Ledger",
    "NewsledgerError",
    "QueryError",
    "SearchHit",
    "Settings",
    "SideRow",
    "StoryDiff",
    "open",
]
