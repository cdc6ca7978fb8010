"""The ``newsledger`` application: the Typer app, the options every command takes (``--db``
before or after the command, ``--json``), the consoles of an invocation, and ``main`` (exit
status 1 for a failure at run time, 2 for a usage error)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import click
import typer
from newsledger.tasks.errors import NewsledgerError, UsageError
from newsledger.tasks.settings import Settings
from rich.console import Console

app = typer.Typer(
    name="newsledger",
    help="Keep every revision of every news story in a DuckDB ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@dataclass(frozen=True)
class Consoles:
    """Standard output and standard error of one invocation."""

    out: Console
    err: Console


def consoles() -> Consoles:
    """The consoles of the running invocation, built at its first use (so the terminal, its
    width and ``COLUMNS`` are read for each invocation, not once at import) and kept in the
    click context; outside a command, new ones."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Consoles(Console(), Console(stderr=True))
    found: Consoles | None = ctx.meta.get(CONSOLES_KEY)
    if found is None:
        found = ctx.meta[CONSOLES_KEY] = Consoles(Console(), Console(stderr=True))
    return found


CONSOLES_KEY = "newsledger.consoles"


def out() -> Console:
    return consoles().out


def err() -> Console:
    return consoles().err


DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Ledger file (default: $NEWSLEDGER_DB or data/newsledger.duckdb)"),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON, one object per line, instead of tables")
]
PrefectOption = Annotated[
    bool | None,
    typer.Option(
        "--prefect/--local",
        help="Force a Prefect flow run / an in-process run "
        "(default: a flow run when a Prefect server is configured and up)",
    ),
]


def settings_for(ctx: typer.Context, db: Path | None = None) -> Settings:
    """The settings of this command: ``--db`` after the command wins over one before it."""
    settings: Settings = ctx.obj
    return settings.model_copy(update={"db": db}) if db else settings


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out().print(f"newsledger {version('newsledger')}", highlight=False)
        except PackageNotFoundError:
            out().print("newsledger (not installed as a package: version unknown)")
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    db: DbOption = None,
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit"
        ),
    ] = False,
) -> None:
    settings = Settings()
    ctx.obj = settings.model_copy(update={"db": db}) if db else settings


def exit_code(error: NewsledgerError) -> int:
    """2 for a usage error (a command line that cannot be run), 1 for every other failure."""
    return 2 if isinstance(error, UsageError) else 1


def main() -> None:
    try:
        app(prog_name="newsledger")
    except NewsledgerError as error:
        err().print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(exit_code(error))
