"""Commands that read the ledger for other uses: ``search``, ``index``, ``export``,
``stats``, and ``web`` (the read-only web view)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from newsledger.flows.cli.app import DbOption, app, err, exit_code, out, settings_for
from newsledger.flows.cli.render import render_records, render_rows, utc_time
from newsledger.tasks.values import as_utc
from rich.table import Table
from rich.text import Text


class SearchFormat(StrEnum):
    table = "table"
    json = "json"


class ExportFormat(StrEnum):
    parquet = "parquet"
    jsonl = "jsonl"
    warc = "warc"


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to look for (stemmed, any order)")],
    all_revisions: Annotated[
        bool, typer.Option("--all-revisions", help="One row per matching revision, not per story")
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="Only revisions observed since DATE (YYYY-MM-DD[THH:MM])")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show")] = 10,
    output_format: Annotated[SearchFormat, typer.Option("--format", "-f")] = SearchFormat.table,
    refresh_index: Annotated[
        bool, typer.Option("--refresh/--no-refresh", help="Index new revisions first")
    ] = True,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON object per hit and line (--format json: an array)"),
    ] = False,
    db: DbOption = None,
) -> None:
    """Full-text search (BM25) over every revision: what stories say, and what they used to say."""
    from newsledger.tasks.errors import DatabaseLockedError
    from newsledger.tasks.search import (
        parse_since,
        refresh_search_index,
        search_index_status,
    )
    from newsledger.tasks.search import search as run_search

    settings = settings_for(ctx, db)
    since_value = parse_since(since) if since else None
    status = search_index_status(settings)
    if refresh_index and not status.current:
        err().print(f"[dim]indexing {status.behind} new revisions for search…[/dim]")
        try:
            refresh_search_index(
                settings.model_copy(
                    update={"lock_timeout_seconds": min(settings.lock_timeout_seconds, 10.0)}
                )
            )
        except DatabaseLockedError:
            err().print(
                "[yellow]the ledger is busy (another process is writing): searching the "
                "index as it is[/yellow]"
            )
    results = run_search(
        settings, query, all_revisions=all_revisions, since=since_value, limit=limit
    )
    if results.status.behind:
        err().print(
            f"[yellow]the search index is {results.status.behind} revisions behind: run "
            "`newsledger index`[/yellow]"
        )
    if as_json:
        render_records(hit.as_dict() for hit in results.hits)
        return
    if output_format is SearchFormat.json:
        render_records((hit.as_dict() for hit in results.hits), "json")
        return
    if not results.hits:
        err().print(
            f"no revision matches {query!r}"
            + ("" if results.terms else " (none of its words is in the index)"),
            highlight=False,
        )
        return
    for number, hit in enumerate(results.hits, 1):
        head = Text.assemble(
            (f"{number:>2}. ", "bold"),
            (f"{hit.score:6.2f}  ", "cyan"),
            (hit.title or "(no title)", "bold"),
            (
                f"   rev {hit.revision} of {hit.latest_revision} · {utc_time(hit.observed_at)}"
                + (f" · {hit.outlet}" if hit.outlet else ""),
                "dim",
            ),
        )
        out().print(head, highlight=False)
        out().print(Text(f"    {hit.identity}  ({hit.article_id})", style="dim"), highlight=False)
        snippet = Text("    " + hit.snippet)
        snippet.highlight_words(hit.highlights, style="bold yellow", case_sensitive=True)
        out().print(snippet, highlight=False)
        if hit.note:
            out().print(Text(f"    ↳ {hit.note}", style="magenta"), highlight=False)


@app.command("index")
def index_command(
    ctx: typer.Context,
    rebuild: Annotated[
        bool, typer.Option(help="Empty the search index and build it again")
    ] = False,
    db: DbOption = None,
) -> None:
    """Bring the full-text search index up to date (ingests do this after each run)."""
    from newsledger.tasks.search import refresh_search_index, search_index_status

    settings = settings_for(ctx, db)
    search_index_status(settings)  # a clear error, not a new empty file, for a wrong --db
    report = refresh_search_index(settings, rebuild=rebuild)
    status = search_index_status(settings)
    if report.skipped:
        out().print(
            f"search index already current: {status.indexed_revisions} revisions", highlight=False
        )
    else:
        out().print(
            f"indexed {report.indexed} revisions in {report.seconds:.1f} s "
            f"({report.chunks} chunks, {report.merges} merges"
            f"{', rebuilt' if report.rebuilt else ''}); the index covers "
            f"{status.indexed_revisions} of {status.revisions} revisions",
            highlight=False,
        )


@app.command()
def export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write")],
    output_format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.parquet,
    query: Annotated[str | None, typer.Option(help="A read-only SQL query to export")] = None,
    table: Annotated[
        str | None, typer.Option(help="A table or view to export (default: latest_revisions)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --output file (never the ledger)")
    ] = False,
    partition_by: Annotated[
        str | None,
        typer.Option(
            help="Incremental partitioned Parquet: --output is a folder (or s3:// prefix) that "
            "gets the revisions not yet exported there, in Hive-style folders by these keys "
            "(outlet, language, source_kind, year, month, day; e.g. outlet,day)"
        ),
    ] = None,
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="With --partition-by: write every revision again (earlier files removed)"
        ),
    ] = False,
    story: Annotated[
        str | None, typer.Option(help="--format warc: the fetches of this story (id, URL)")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="--format warc: fetches from this time (UTC)")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="--format warc: fetches before this time (UTC)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the ledger (a table, a view or a query) to Parquet or JSON Lines for other tools,
    or, with --partition-by, every new revision to a partitioned Parquet folder, or, with
    --format warc, the WARC records of the fetches of a story or a time range."""
    if output_format is ExportFormat.warc:
        if query or table or partition_by:
            raise typer.BadParameter(
                "--format warc exports fetches: --story / --since / --until, no --query, "
                "--table or --partition-by",
                param_hint="'--format'",
            )
        _export_warc(ctx, output, story, since, until, force, db)
        return
    if partition_by is not None:
        if query or table or output_format is not ExportFormat.parquet:
            raise typer.BadParameter(
                "--partition-by exports revisions as Parquet: no --query, --table or --format",
                param_hint="'--partition-by'",
            )
        _export_partitioned(ctx, output, partition_by, everything, db)
        return
    from newsledger.tasks.query import (
        QueryError,
        QueryMemory,
        export_query,
        memory_message,
        process_memory_cap,
        table_query,
    )

    settings = settings_for(ctx, db)
    if query and table:
        raise typer.BadParameter(
            "give --query or --table, not both", param_hint="'--query' / '--table'"
        )
    try:
        statement = query or table_query(settings, table or "latest_revisions")
        with process_memory_cap(settings):
            try:
                count = export_query(settings, statement, output, output_format.value, force)
            except MemoryError:
                raise QueryMemory(memory_message(settings)) from None
    except QueryError as error:
        err().print(Text.assemble(("error: ", "red"), str(error)), highlight=False, soft_wrap=True)
        raise typer.Exit(exit_code(error)) from None
    out().print(f"wrote {count} rows to {output} ({output_format.value})", highlight=False)


def _export_warc(
    ctx: typer.Context,
    output: Path,
    story: str | None,
    since: datetime | None,
    until: datetime | None,
    force: bool,
    db: Path | None,
) -> None:
    from newsledger.tasks.archive.export import export_warc

    result = export_warc(
        settings_for(ctx, db),
        output,
        story=story,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
        force=force,
    )
    missing = f"; {result.missing} exchanges missing from the archive" if result.missing else ""
    out().print(
        f"wrote {result.exchanges} exchanges of {result.fetches} fetches to {output} (warc)"
        f"{missing}",
        highlight=False,
    )


def _export_partitioned(
    ctx: typer.Context, output: Path, partition_by: str, everything: bool, db: Path | None
) -> None:
    from newsledger.tasks.exports import export_partitioned

    # A NewsledgerError (an unknown key, no ledger) is printed by main(), exit 2 or 1.
    result = export_partitioned(settings_for(ctx, db), output, partition_by, everything=everything)
    cleaned = (
        f"; removed {result.cleaned_files} files of earlier exports" if result.cleaned_files else ""
    )
    out().print(
        f"wrote {result.revisions} new revisions in {result.files} files to {result.target} "
        f"(by {','.join(result.partition_by)}; export {result.export_id}){cleaned}",
        highlight=False,
    )


@app.command()
def stats(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option(help="Days shown per outlet (the latest with revisions)")
    ] = 14,
    top: Annotated[int, typer.Option(help="Most-edited stories shown")] = 10,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help='One JSON object per row and line, its table in "table" (times UTC)'
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Counts per outlet and day, revisions per story, and the most-edited stories (UTC)."""
    from newsledger.tasks.query import Table as ResultTable
    from newsledger.tasks.query import ledger_stats

    result = ledger_stats(settings_for(ctx, db), days=days, top=top)
    if as_json:
        for name, data in (
            ("totals", result.totals),
            ("per_outlet_day", result.per_outlet_day),
            ("revisions_per_story", result.revisions_per_story),
            ("most_edited", result.most_edited),
        ):
            render_rows(["table", *data.names], ((name, *row) for row in data.rows))
        return

    def cell(value: Any) -> str:
        return (
            "—" if value is None else utc_time(value) if isinstance(value, datetime) else str(value)
        )

    def show(title: str, data: ResultTable) -> None:
        table = Table(title=title, show_edge=False, title_justify="left")
        for name in data.names:
            table.add_column(name.replace("_", " "), overflow="fold")
        for row in data.rows:
            table.add_row(*(cell(v) for v in row))
        out().print(table)
        out().print()

    totals = Table(title="ledger", show_header=False, show_edge=False, title_justify="left")
    totals.add_column(style="bold")
    totals.add_column(justify="right")
    for name, value in zip(result.totals.names, result.totals.rows[0], strict=True):
        totals.add_row(name.replace("_", " "), cell(value))
    out().print(totals)
    out().print()
    show(f"per outlet and day (latest {days} days with revisions)", result.per_outlet_day)
    show("revisions per story", result.revisions_per_story)
    show(f"most-edited stories (top {top})", result.most_edited)


@app.command()
def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port)")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve a read-only web view of the ledger: stories, diffs, feeds, JSON (127.0.0.1)."""
    from newsledger.tasks.webview.server import serve as serve_web

    serve_web(settings_for(ctx, db), host, port)
