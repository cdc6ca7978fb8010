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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers and editors; loaded on first use below
    from newsledger.tasks.api import Frames, Ledger, open
    from newsledger.tasks.diff import DiffPiece
    from newsledger.tasks.errors import NewsledgerError
    from newsledger.tasks.ledger import ArticleNotFoundError
    from newsledger.tasks.query import QueryError
    from newsledger.tasks.search import SearchHit
    from newsledger.tasks.settings import Settings
    from newsledger.tasks.webview.diffs import FieldChange, SideRow, StoryDiff

# Where each public name lives. Loaded on first use (PEP 562), so that `newsledger` itself
# (and so every CLI command, whose modules are inside this package) imports nothing heavy.
_HOME = {
    "ArticleNotFoundError": "newsledger.tasks.ledger",
    "DiffPiece": "newsledger.tasks.diff",
    "FieldChange": "newsledger.tasks.webview.diffs",
    "Frames": "newsledger.tasks.api",
    "Ledger": "newsledger.tasks.api",
    "NewsledgerError": "newsledger.tasks.errors",
    "QueryError": "newsledger.tasks.query",
    "SearchHit": "newsledger.tasks.search",
    "Settings": "newsledger.tasks.settings",
    "SideRow": "newsledger.tasks.webview.diffs",
    "StoryDiff": "newsledger.tasks.webview.diffs",
    "open": "newsledger.tasks.api",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'newsledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


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
