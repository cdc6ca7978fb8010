"""Read side for people and tools: a user's SQL on a locked-down connection, exports to
Parquet/JSON Lines, and ledger statistics. Plain functions over :func:`store.open_reader`.

A user's query only ever runs on the locked-down read-only connection (no writes, no other
files, no extensions, configuration locked, memory and time capped). To write Parquet or JSON
Lines, that connection hands its result over as an Arrow C stream to a second, in-memory
connection that has file access but never sees the user's SQL; the file is written next to its
destination and renamed into place, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import os
import re
import reprlib
import resource
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
from newsledger.tasks.errors import (
    QueryError,
    QueryMemory,
    QueryOutputError,
    QueryTimeout,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader, sql
from newsledger.tasks.values import sql_string

FileFormat = Literal["parquet", "jsonl", "csv", "json"]
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def timeout_message(settings: Settings) -> str:
    return (
        f"the query was stopped after {settings.query_timeout_seconds:g} s, fetching and "
        "showing or writing its result included "
        "(raise NEWSLEDGER_QUERY_TIMEOUT_SECONDS for longer queries)"
    )


def memory_message(settings: Settings) -> str:
    process = (
        f"; newsledger sql may use {settings.query_process_memory_mb} MB more for the whole "
        "process, DuckDB, its result and printing it (NEWSLEDGER_QUERY_PROCESS_MEMORY_MB)"
        if settings.query_process_memory_mb
        else ""
    )
    return (
        f"the query ran out of memory: DuckDB may use {settings.query_memory_limit} "
        f"(NEWSLEDGER_QUERY_MEMORY_LIMIT){process}"
    )


@dataclass
class Deadline:
    """One deadline for a user's query, from its start to the last byte of its result."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.start)

    def check(self, settings: Settings) -> None:
        if self.remaining() <= 0:
            raise QueryTimeout(timeout_message(settings))


def _virtual_size() -> int:
    """This process's current address-space size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def process_memory_cap(settings: Settings) -> Iterator[None]:
    """Cap this whole process's address space (soft ``RLIMIT_AS``) at its current size plus
    ``query_process_memory_mb`` while a user's query runs and its result is written, so a
    query that outgrows DuckDB's own accounting (a giant list or string, a huge result on the
    Python side) fails with an out-of-memory error instead of taking the machine's memory.
    The previous limit comes back afterwards (the clear message needs memory to print)."""
    budget = settings.query_process_memory_mb * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    current = _virtual_size()
    if not budget or not current:
        yield
        return
    cap = current + budget
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, soft)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def explain_sql_error(error: duckdb.Error, settings: Settings) -> str:
    """DuckDB's message, prefixed with what the restriction is when the query hit one."""
    text = str(error).strip()
    lowered = text.lower()
    if isinstance(error, duckdb.InterruptException):
        return timeout_message(settings)
    if "read-only" in lowered or "read only" in lowered:
        hint = (
            "newsledger sql is read-only: the ledger only changes through newsledger's own commands"
        )
    elif "configuration has been locked" in lowered or "while database is running" in lowered:
        hint = "settings cannot be changed in newsledger sql"
    elif (
        isinstance(error, duckdb.PermissionException)
        or "disabled by configuration" in lowered
        or "external access" in lowered
        or ("extension" in lowered and ("install" in lowered or "load" in lowered))
    ):
        hint = (
            "newsledger sql cannot read or write other files, attach databases or install "
            "and load extensions"
        )
    elif _out_of_memory(error):
        hint = memory_message(settings)
    else:
        return text
    return f"{hint}. DuckDB said: {text}"


def query_error(error: duckdb.Error | MemoryError, settings: Settings) -> QueryError:
    """The :class:`QueryError` (timeout, memory or other) a failure of a user's query is."""
    if isinstance(error, MemoryError):
        return QueryMemory(memory_message(settings))
    lowered = str(error).lower()
    # Through the Arrow stream of an export, DuckDB's errors arrive wrapped in another type.
    if isinstance(error, duckdb.InterruptException) or "interrupt error" in lowered:
        return QueryTimeout(timeout_message(settings))
    if _out_of_memory(error):
        return QueryMemory(f"{memory_message(settings)}. DuckDB said: {str(error).strip()}")
    return QueryError(explain_sql_error(error, settings))


def _out_of_memory(error: duckdb.Error) -> bool:
    lowered = str(error).lower()
    return (
        isinstance(error, duckdb.OutOfMemoryException)
        or "bad_alloc" in lowered
        or "out of memory error" in lowered
    )


def _reader(settings: Settings, deadline: Deadline | None = None) -> Any:
    deadline = deadline or Deadline(settings.query_timeout_seconds)
    return open_reader(
        settings,
        query_timeout=max(deadline.remaining(), 0.001),
        memory_limit=settings.query_memory_limit,
    )


FETCH_ROWS = 2048


@dataclass(frozen=True)
class QueryResult:
    """A running user query: its column names and its rows, fetched a chunk at a time; every
    chunk checks the deadline (DuckDB itself is interrupted when it passes)."""

    names: list[str]
    cursor: duckdb.DuckDBPyConnection | None
    settings: Settings
    deadline: Deadline

    def rows(self) -> Iterator[tuple[Any, ...]]:
        if self.cursor is None:
            return
        while True:
            self.deadline.check(self.settings)
            try:
                chunk = self.cursor.fetchmany(FETCH_ROWS)
            except duckdb.Error as error:
                raise query_error(error, self.settings) from None
            if not chunk:
                return
            yield from chunk


@contextmanager
def stream_sql(
    settings: Settings,
    query: str,
    deadline: Deadline | None = None,
    parameters: Mapping[str, str] | None = None,
) -> Iterator[QueryResult]:
    """Run a user's query on the locked-down read-only connection; the rows stream while the
    context is open, all under one deadline (``query_timeout_seconds`` from ``deadline``'s
    start). ``parameters`` are bound to the query's named parameters (``$name``)."""
    deadline = deadline or Deadline(settings.query_timeout_seconds)
    with _reader(settings, deadline) as conn:
        try:
            cursor = conn.execute(query, dict(parameters)) if parameters else conn.execute(query)
            names = [d[0] for d in cursor.description or []]
        except (duckdb.Error, MemoryError) as error:
            raise query_error(error, settings) from None
        yield QueryResult(names, cursor if cursor.description else None, settings, deadline)


def run_sql(settings: Settings, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of a user's query, run on the locked-down read-only connection."""
    with stream_sql(settings, query) as result:
        try:
            return result.names, list(result.rows())
        except MemoryError:
            raise QueryMemory(memory_message(settings)) from None


# --- showing values -----------------------------------------------------------------------------


def _repr_limits(max_chars: int) -> reprlib.Repr:
    limits = reprlib.Repr()
    limits.maxstring = limits.maxother = max_chars
    limits.maxlist = limits.maxtuple = limits.maxdict = limits.maxset = 100
    limits.maxlevel = 6
    return limits


def shown_value(value: Any, max_chars: int) -> str:
    """A value as a table shows it: at most ``max_chars`` characters, then a marker saying how
    big it is (``…(3,000,000 chars)``); the cost does not grow with the value's size."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        text, size, unit = value[: max_chars + 1], len(value), "chars"
    elif isinstance(value, bytes | bytearray | memoryview):
        text, size, unit = str(bytes(value[: max_chars + 1])), len(value), "bytes"
    elif isinstance(value, list | tuple | dict | set | frozenset):
        # reprlib elides deep or long parts with "..." (the same text as str() otherwise)
        text, size, unit = _repr_limits(max_chars).repr(value), len(value), "items"
    else:
        text = str(value)
        size, unit = len(text), "chars"
    if len(text) <= max_chars and (unit == "items" or size <= max_chars):
        return text
    return f"{text[:max_chars]}…({size:,} {unit})"


class _ArrowStream:
    """Hands a relation of one connection to another as an Arrow C stream (no pyarrow)."""

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self._relation = relation

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._relation.__arrow_c_stream__(requested_schema)


def _copy_options(file_format: FileFormat) -> str:
    return {
        "parquet": "FORMAT parquet, COMPRESSION zstd",
        "jsonl": "FORMAT json",
        "json": "FORMAT json, ARRAY true",
        "csv": "FORMAT csv, HEADER true",
    }[file_format] + ", USE_TMP_FILE false"  # we write to our own temporary file already


def _is_ledger_file(output: Path, settings: Settings) -> bool:
    """Whether ``output`` is the ledger or one of its side files (by path, symlink or hard
    link: compared by device and inode, then by resolved path)."""
    ledger = settings.db.expanduser()
    for candidate in (ledger, ledger.with_name(ledger.name + ".wal")):
        try:
            if os.path.samefile(output, candidate):
                return True
        except OSError:
            pass
        if output.resolve() == candidate.resolve():
            return True
    return False


def check_output(settings: Settings, output: Path, force: bool) -> None:
    """Refuse an ``--output`` that is the ledger (always), a folder, or an existing file
    (unless ``force``)."""
    if _is_ledger_file(output, settings):
        raise QueryOutputError(f"--output {output} is the ledger itself; refusing to write over it")
    if output.is_dir():
        raise QueryOutputError(f"--output {output} is a folder; give a file name")
    if (output.exists() or output.is_symlink()) and not force:
        raise QueryOutputError(f"--output {output} already exists; pass --force to replace it")


def export_query(
    settings: Settings,
    query: str,
    output: Path,
    file_format: FileFormat,
    force: bool = False,
    deadline: Deadline | None = None,
    parameters: Mapping[str, str] | None = None,
) -> int:
    """Write the result of a user's query to ``output`` (through a temporary file in the same
    folder, renamed only on success); returns the number of rows. The whole export stops at
    the deadline (``query_timeout_seconds``). ``parameters`` bind ``$name`` parameters."""
    deadline = deadline or Deadline(settings.query_timeout_seconds)
    output = output.expanduser()
    check_output(settings, output, force)
    output.parent.mkdir(parents=True, exist_ok=True)
    with _reader(settings, deadline) as conn:
        try:
            relation = conn.sql(query, params=dict(parameters)) if parameters else conn.sql(query)
        except (duckdb.Error, MemoryError) as error:
            raise query_error(error, settings) from None
        if relation is None:
            raise QueryError("the statement returns no rows to write (give a SELECT)")
        handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
        os.close(handle)
        try:
            with duckdb.connect(
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
            ) as writer:
                timer = threading.Timer(max(deadline.remaining(), 0.001), writer.interrupt)
                timer.daemon = True
                timer.start()
                try:
                    writer.register("user_result", _ArrowStream(relation))
                    row = writer.execute(
                        f"COPY (SELECT * FROM user_result) TO {sql_string(temporary)} "
                        f"({_copy_options(file_format)})"
                    ).fetchone()
                finally:
                    timer.cancel()
            deadline.check(settings)
            check_output(settings, output, force)  # again: the query may have taken a while
            os.replace(temporary, output)
        except (duckdb.Error, MemoryError) as error:
            raise query_error(error, settings) from None
        finally:
            Path(temporary).unlink(missing_ok=True)
    return int(row[0]) if row else 0


def queryable_names(settings: Settings) -> list[str]:
    """Tables and views of the ledger that ``export --table`` accepts."""
    with open_reader(settings, locked_down=False) as conn:
        rows = conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal "
            "AND NOT temporary UNION SELECT view_name FROM duckdb_views() "
            "WHERE schema_name = 'main' AND NOT internal AND NOT temporary ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def table_query(settings: Settings, name: str) -> str:
    """``SELECT * FROM <name>`` for a table or view of the ledger (checked against the catalog)."""
    names = queryable_names(settings)
    if not IDENTIFIER.match(name) or name not in names:
        raise QueryError(
            f"no table or view named {name!r} in the ledger; choose one of: {', '.join(names)}"
        )
    return f'SELECT * FROM "{name}"'


# --- stats --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    names: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class LedgerStats:
    totals: Table
    per_outlet_day: Table
    revisions_per_story: Table
    most_edited: Table


def ledger_stats(settings: Settings, *, days: int = 14, top: int = 10) -> LedgerStats:
    """Counts per outlet and day (last ``days`` days with revisions), how many revisions
    stories have, and the ``top`` most-edited stories."""

    def table(conn: duckdb.DuckDBPyConnection, name: str, **params: Any) -> Table:
        cursor = conn.execute(sql(name), params)
        return Table([d[0] for d in cursor.description or []], cursor.fetchall())

    with open_reader(settings) as conn:
        return LedgerStats(
            totals=table(conn, "stats_totals"),
            per_outlet_day=table(conn, "stats_outlet_day", days=days),
            revisions_per_story=table(conn, "stats_revisions_per_story"),
            most_edited=table(conn, "stats_most_edited", top=top),
        )


__all__ = [
    "Deadline",
    "LedgerStats",
    "QueryError",
    "QueryMemory",
    "QueryOutputError",
    "QueryResult",
    "QueryTimeout",
    "Table",
    "explain_sql_error",
    "export_query",
    "ledger_stats",
    "process_memory_cap",
    "queryable_names",
    "run_sql",
    "shown_value",
    "stream_sql",
    "table_query",
]
