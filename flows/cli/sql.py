"""``newsledger sql``: a read-only query (argument or stdin, ``--param NAME=VALUE``) shown
as a bounded table, or complete as CSV / JSON on stdout, or written to a file."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from newsledger.flows.cli.app import DbOption, app, err, exit_code, out, settings_for
from newsledger.flows.cli.render import render_rows
from newsledger.tasks.settings import Settings
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from newsledger.tasks.query import Deadline


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _read_query(query: str | None) -> str:
    """The query of ``newsledger sql``: the argument, or stdin for ``-`` or no argument with
    stdin piped (a terminal on stdin and no argument is a usage error)."""
    if query is not None and query != "-":
        return query
    if query is None and sys.stdin.isatty():
        raise typer.BadParameter(
            "give a query, or pipe one on stdin (`newsledger sql - < FILE`)", param_hint="QUERY"
        )
    text = sys.stdin.read()
    if not text.strip():
        raise typer.BadParameter("the query read from stdin is empty", param_hint="QUERY")
    return text


def _parse_params(values: Sequence[str]) -> dict[str, str]:
    """``--param name=value`` options as DuckDB named parameters (``$name`` in the query)."""
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise typer.BadParameter(
                f"{item!r}: expected NAME=VALUE, NAME a plain identifier", param_hint="--param"
            )
        params[name.strip()] = value
    return params


@app.command("sql")
def sql_command(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(help="A read-only SQL query; `-` or none (with stdin piped): read stdin"),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="parquet needs --output")
    ] = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the result to this file")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --output file (never the ledger)")
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="NAME=VALUE bound to $NAME in the query (text; repeatable)"
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Run a read-only SQL query against the ledger (no writes, no access to other files)."""
    from newsledger.tasks.query import Deadline, QueryError, process_memory_cap

    settings = settings_for(ctx, db)
    if (output is not None or output_format is OutputFormat.parquet) and (
        output is None or output_format is OutputFormat.table
    ):
        raise typer.BadParameter(
            "--format parquet needs --output FILE, and --output needs --format parquet, csv "
            "or json",
            param_hint="'--format' / '--output'",
        )
    parameters = _parse_params(param or [])
    text = _read_query(query)
    deadline = Deadline(settings.query_timeout_seconds)
    try:
        with process_memory_cap(settings):
            _run_sql_command(settings, text, parameters, output_format, output, force, deadline)
    except QueryError as error:
        sys.stdout.flush()
        err().print(
            Text.assemble(("SQL error: ", "red"), str(error)), highlight=False, soft_wrap=True
        )
        raise typer.Exit(exit_code(error)) from None


def _run_sql_command(
    settings: Settings,
    query: str,
    parameters: dict[str, str],
    output_format: OutputFormat,
    output: Path | None,
    force: bool,
    deadline: Deadline,
) -> None:
    """The body of ``newsledger sql`` (under the memory cap and the deadline): a file, CSV or
    JSON on stdout (complete), or a table (bounded: at most ``query_max_rows_shown`` rows,
    values cut at ``query_max_value_chars``). A deadline or memory failure while printing is a
    :class:`QueryError` like one inside DuckDB."""
    from newsledger.tasks.query import (
        QueryMemory,
        export_query,
        memory_message,
        shown_value,
        stream_sql,
    )

    try:
        if output is not None:
            count = export_query(
                settings, query, output, output_format.value, force, deadline, parameters
            )
            err().print(f"wrote {count} rows to {output}", highlight=False)
            return
        with stream_sql(settings, query, deadline, parameters) as result:
            names = result.names
            if output_format in (OutputFormat.csv, OutputFormat.json):
                render_rows(names, result.rows(), output_format.value)
            else:
                limit, chars = settings.query_max_rows_shown, settings.query_max_value_chars
                table = Table(show_edge=False)
                for name in names:
                    table.add_column(shown_value(name, chars), overflow="fold")
                more = 0
                for row in result.rows():
                    if table.row_count < limit:
                        table.add_row(*(shown_value(value, chars) for value in row))
                    else:
                        more += 1
                out().print(_UnderDeadline(table, lambda: deadline.check(settings)))
                if more:
                    err().print(
                        f"… {more:,} more rows not shown (at most {limit:,}: "
                        "NEWSLEDGER_QUERY_MAX_ROWS_SHOWN; --format csv or json, or --output, "
                        "give all rows)",
                        highlight=False,
                    )
    except MemoryError:
        raise QueryMemory(memory_message(settings)) from None


class _UnderDeadline:
    """A renderable that draws another one and calls ``check`` (which raises when the
    deadline has passed) every few hundred segments, so drawing a table stays under the
    query's timeout."""

    def __init__(self, renderable: Any, check: Callable[[], None]) -> None:
        self.renderable, self.check = renderable, check

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.check()
        for count, segment in enumerate(console.render(self.renderable, options), 1):
            if count % 256 == 0:
                self.check()
            yield segment
        self.check()
