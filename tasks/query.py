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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
from newsledger.tasks.errors import NewsledgerError
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader, sql

FileFormat = Literal["parquet", "jsonl", "csv", "json"]
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class QueryError(NewsledgerError):
    stage = "query"
    code = "sql"


def explain_sql_error(error: duckdb.Error, settings: Settings) -> str:
    """DuckDB's message, prefixed with what the restriction is when the query hit one."""
    text = str(error).strip()
    lowered = text.lower()
    if isinstance(error, duckdb.InterruptException):
        return (
            f"the query was stopped after {settings.query_timeout_seconds:g} s "
            "(raise NEWSLEDGER_QUERY_TIMEOUT_SECONDS for longer queries)"
        )
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
    elif isinstance(error, duckdb.OutOfMemoryException):
        hint = (
            f"the query needs more than {settings.query_memory_limit} of memory "
            "(NEWSLEDGER_QUERY_MEMORY_LIMIT)"
        )
    else:
        return text
    return f"{hint}. DuckDB said: {text}"


def _reader(settings: Settings) -> Any:
    return open_reader(
        settings,
        query_timeout=settings.query_timeout_seconds,
        memory_limit=settings.query_memory_limit,
    )


def run_sql(settings: Settings, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of a user's query, run on the locked-down read-only connection."""
    with _reader(settings) as conn:
        try:
            cursor = conn.execute(query)
            names = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall() if cursor.description else []
        except duckdb.Error as error:
            raise QueryError(explain_sql_error(error, settings)) from None
    return names, rows


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
    }[file_format]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
        raise QueryError(f"--output {output} is the ledger itself; refusing to write over it")
    if output.is_dir():
        raise QueryError(f"--output {output} is a folder; give a file name")
    if (output.exists() or output.is_symlink()) and not force:
        raise QueryError(f"--output {output} already exists; pass --force to replace it")


def export_query(
    settings: Settings, query: str, output: Path, file_format: FileFormat, force: bool = False
) -> int:
    """Write the result of a user's query to ``output`` (through a temporary file in the same
    folder, renamed only on success); returns the number of rows."""
    output = output.expanduser()
    check_output(settings, output, force)
    output.parent.mkdir(parents=True, exist_ok=True)
    with _reader(settings) as conn:
        try:
            relation = conn.sql(query)
        except duckdb.Error as error:
            raise QueryError(explain_sql_error(error, settings)) from None
        if relation is None:
            raise QueryError("the statement returns no rows to write (give a SELECT)")
        handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
        os.close(handle)
        try:
            with duckdb.connect(
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
            ) as writer:
                writer.register("user_result", _ArrowStream(relation))
                row = writer.execute(
                    f"COPY (SELECT * FROM user_result) TO {_quote(temporary)} "
                    f"({_copy_options(file_format)})"
                ).fetchone()
            check_output(settings, output, force)  # again: the query may have taken a while
            os.replace(temporary, output)
        except duckdb.Error as error:
            raise QueryError(explain_sql_error(error, settings)) from None
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

    with open_reader(settings, locked_down=False) as conn:
        return LedgerStats(
            totals=table(conn, "stats_totals"),
            per_outlet_day=table(conn, "stats_outlet_day", days=days),
            revisions_per_story=table(conn, "stats_revisions_per_story"),
            most_edited=table(conn, "stats_most_edited", top=top),
        )


__all__ = [
    "LedgerStats",
    "QueryError",
    "Table",
    "explain_sql_error",
    "export_query",
    "ledger_stats",
    "queryable_names",
    "run_sql",
    "table_query",
]
