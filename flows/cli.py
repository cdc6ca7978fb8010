"""The ``newsledger`` command line: a thin layer over plain functions and Prefect flows.

Fast path: commands import neither Prefect nor trafilatura unless they need them (see
``flows/runtime.py`` for when a command becomes a Prefect flow run).

Conventions: ``--db`` before or after the command; ``--json`` prints one JSON object per line;
times are shown in UTC; exit status 0 on success, 1 when something failed at run time (an
input, the query, a missing ledger), 2 for a usage error (a bad command line).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from newsledger.flows.runtime import decide_orchestration, prepare_prefect_environment
from newsledger.tasks.errors import NewsledgerError, UsageError
from newsledger.tasks.settings import Settings
from newsledger.tasks.values import as_utc, json_default
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # the pipeline (and DuckDB) load only for commands that run one
    from newsledger.tasks.pipeline import RunContext
    from newsledger.tasks.query import Deadline

app = typer.Typer(
    name="newsledger",
    help="Keep every revision of every news story in a DuckDB ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Ledger file (default: $NEWSLEDGER_DB or data/newsledger.duckdb)"),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON, one object per line, instead of tables")
]


def _settings(ctx: typer.Context, db: Path | None = None) -> Settings:
    """The settings of this command: ``--db`` after the command wins over one before it."""
    settings: Settings = ctx.obj
    return settings.model_copy(update={"db": db}) if db else settings


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"newsledger {version('newsledger')}", highlight=False)
        except PackageNotFoundError:
            out.print("newsledger (not installed as a package: version unknown)")
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


# --- the renderer of rows: JSON Lines, a JSON array, CSV (tables are drawn per command) -----


def render_rows(
    names: Sequence[str], rows: Iterable[Sequence[Any]], output_format: str = "jsonl"
) -> None:
    """Write ``rows`` (named by ``names``) to stdout, a row at a time: ``jsonl`` one JSON
    object per line (what ``--json`` prints), ``json`` one array of objects, ``csv`` a header
    and one line per row (Unix line ends; lists and structs as JSON, NULL as an empty cell).
    Times are ISO 8601 in UTC everywhere."""
    if output_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_cell(value) for value in row])
        return
    render_records((dict(zip(names, row, strict=True)) for row in rows), output_format)


def render_records(records: Iterable[dict[str, Any]], output_format: str = "jsonl") -> None:
    """Records as JSON Lines (``jsonl``) or as one JSON array (``json``: the text of
    ``json.dumps(records, indent=2)``, written a record at a time)."""
    if output_format == "jsonl":
        for record in records:
            _json_line(record)
        return
    separator = "[\n"
    for record in records:
        text = json.dumps(record, default=json_default, ensure_ascii=False, indent=2)
        sys.stdout.write(separator + "  " + text.replace("\n", "\n  "))
        separator = ",\n"
    sys.stdout.write("[]\n" if separator == "[\n" else "\n]\n")


def _json_line(record: Any) -> None:
    sys.stdout.write(json.dumps(record, default=json_default, ensure_ascii=False) + "\n")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=json_default, ensure_ascii=False)
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- ingest -------------------------------------------------------------------------------------


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="ingest summary", show_edge=False)
    for name in ("new", "revised", "unchanged", "failed", "skipped"):
        table.add_column(name, justify="right")
    table.add_row(
        *(str(summary[name]) for name in ("new", "revised", "unchanged", "failed", "skipped"))
    )
    out.print(table)
    if summary["failures"]:
        failures = Table(title="failed inputs", show_edge=False)
        for name in ("input", "stage", "error", "reason"):
            failures.add_column(name, overflow="fold")
        for failure in summary["failures"]:
            failures.add_row(
                failure["input"], failure["stage"], failure["error"], failure["message"]
            )
        err.print(failures)


def _print_stored(settings: Settings, article_ids: Sequence[str]) -> None:
    from newsledger.tasks.store import open_reader, sql

    with open_reader(settings, locked_down=False) as conn:
        rows = conn.execute(sql("stored_stories"), {"ids": list(article_ids)}).fetchall()
    for row in rows:
        (
            article_id,
            revision,
            identity,
            title,
            authors,
            outlet,
            published,
            modified,
            dateline,
            language,
            words,
            headings,
            notes,
            lede,
        ) = row
        table = Table(
            show_header=False, show_edge=False, title=f"{identity}  (revision {revision})"
        )
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for label, value in (
            ("article id", article_id),
            ("title", title),
            ("authors", ", ".join(authors)),
            ("outlet", outlet),
            ("published", published),
            ("modified", modified),
            ("dateline", dateline),
            ("language", language),
            ("words", words),
            ("sections", " | ".join(headings)),
            ("update notes", " | ".join(notes)),
            ("lede", lede),
        ):
            table.add_row(label, "—" if value in (None, "") else str(value))
        out.print(table)


# One job runner: every pipeline command names a flow of flows/ingest.py or flows/web.py and
# its parameters (as prefect.yaml names them); it runs as that Prefect flow, or in-process as
# the plain function the flow wraps.
FLOW_MODULES = {"ingest_files": "newsledger.flows.ingest"}  # the others: newsledger.flows.web


def _run_here(
    settings: Settings, context: RunContext, flow: str, **parameters: Any
) -> dict[str, Any]:
    """The in-process run of the flow ``flow``: the plain function it wraps, given the flow's
    parameters, without Prefect."""
    from newsledger.tasks import pipeline, web

    if flow == "ingest_files":
        return pipeline.run_file_ingest(parameters["paths"], settings, context=context).as_dict()
    if flow == "ingest_urls":
        return web.run_url_ingest(parameters["urls"], settings, context=context).as_dict()
    if flow == "poll_feeds":
        feeds = parameters["feeds_file"]
        summary, poll = web.run_poll(
            Path(feeds) if feeds else None,
            settings,
            everything=parameters["all_feeds"],
            context=context,
        )
        return {**summary.as_dict(), "feeds": poll.feed_reports}
    if flow == "refresh_articles":
        return web.run_refresh(
            settings,
            everything=parameters["all_articles"],
            limit=parameters["limit"],
            context=context,
        ).as_dict()
    if flow == "retry_failures":
        return web.run_retry(settings, context=context).as_dict()
    if flow == "reprocess":
        return web.run_reprocess(
            settings, everything=parameters["all_pages"], context=context
        ).as_dict()
    raise ValueError(f"no pipeline job {flow!r}")


def run_job(settings: Settings, flow: str, **parameters: Any) -> dict[str, Any]:
    """Run the pipeline job ``flow`` with ``parameters`` (its flow's, ``db`` aside): as a
    Prefect flow run, or in-process (with a progress bar on a terminal), as
    ``decide_orchestration`` says. Returns the run's summary."""
    import importlib

    orchestration = decide_orchestration(settings)
    if orchestration.note:
        err.print(f"[yellow]{orchestration.note}[/yellow]", highlight=False, soft_wrap=True)
    if orchestration.prefect:
        prepare_prefect_environment(settings)
        err.print("[dim]running as a Prefect flow run[/dim]")
        module = importlib.import_module(FLOW_MODULES.get(flow, "newsledger.flows.web"))
        result: dict[str, Any] = getattr(module, flow)(**parameters, db=str(settings.db))
        return result
    from newsledger.tasks.pipeline import RunContext

    if not err.is_terminal:
        return _run_here(settings, RunContext(), flow, **parameters)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("working", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return _run_here(settings, RunContext(on_progress=on_progress), flow, **parameters)


def _orchestration(settings: Settings, prefect: bool | None) -> Settings:
    if prefect is None:
        return settings
    return settings.model_copy(update={"orchestration": "prefect" if prefect else "local"})


def _merge(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "new": 0,
        "revised": 0,
        "unchanged": 0,
        "failed": 0,
        "skipped": 0,
        "failures": [],
        "stored": [],
    }
    for summary in summaries:
        for key in ("new", "revised", "unchanged", "failed", "skipped"):
            merged[key] += summary[key]
        merged["failures"] += summary["failures"]
        merged["stored"] += summary["stored"]
    return merged


def _report(settings: Settings, summary: dict[str, Any], show: bool, as_json: bool = False) -> None:
    if as_json:
        _json_line(summary)
        if summary["failed"]:
            raise typer.Exit(1)
        return
    _print_summary(summary)
    changed = [o["article_id"] for o in summary.get("stored", [])]
    if show and changed:
        _print_stored(settings, changed[:10])
    if summary["failed"]:
        raise typer.Exit(1)


PrefectOption = Annotated[
    bool | None,
    typer.Option(
        "--prefect/--local",
        help="Force a Prefect flow run / an in-process run "
        "(default: a flow run when a Prefect server is configured and up)",
    ),
]
ShowOption = Annotated[bool, typer.Option(help="Show the stories stored by this run (up to 10)")]


@app.command()
def ingest(
    ctx: typer.Context,
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders (recursive), globs, or http(s) URLs")
    ],
    prefect: PrefectOption = None,
    show: ShowOption = True,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Ingest local articles (text in the seed format, .html/.htm, .html.gz) and web pages.
    With --json: the summary as one JSON object."""
    settings = _orchestration(_settings(ctx, db), prefect)
    urls = [s for s in sources if s.lower().startswith(("http://", "https://"))]
    paths = [s for s in sources if s not in urls]
    summaries = [run_job(settings, "ingest_files", paths=paths)] if paths else []
    summaries += [run_job(settings, "ingest_urls", urls=urls)] if urls else []
    _report(settings, _merge(summaries), show, as_json)


@app.command()
def poll(
    ctx: typer.Context,
    feeds: Annotated[
        Path | None,
        typer.Option(
            "--feeds", help="Feed list (default: $NEWSLEDGER_FEEDS_FILE or seeds/feeds.yaml)"
        ),
    ] = None,
    all_feeds: Annotated[
        bool, typer.Option("--all", help="Poll every enabled feed, not only those due")
    ] = False,
    prefect: PrefectOption = None,
    show: ShowOption = False,
    db: DbOption = None,
) -> None:
    """Poll RSS/Atom feeds and store every new story they list."""
    settings = _orchestration(_settings(ctx, db), prefect)
    summary = run_job(
        settings, "poll_feeds", feeds_file=str(feeds) if feeds else None, all_feeds=all_feeds
    )
    table = Table(title="feeds", show_edge=False)
    for name in ("feed", "status", "entries"):
        table.add_column(name)
    for report in summary.get("feeds", []):
        table.add_row(report["feed"], report.get("status", "—"), str(report.get("entries", "—")))
    out.print(table)
    _report(settings, summary, show)


@app.command()
def refresh(
    ctx: typer.Context,
    all_articles: Annotated[bool, typer.Option("--all", help="Revisit every story now")] = False,
    limit: Annotated[int, typer.Option(help="Revisit at most this many stories")] = 100_000,
    prefect: PrefectOption = None,
    show: ShowOption = False,
    db: DbOption = None,
) -> None:
    """Revisit known stories that are due, so updates become revisions."""
    settings = _orchestration(_settings(ctx, db), prefect)
    summary = run_job(settings, "refresh_articles", all_articles=all_articles, limit=limit)
    _report(settings, summary, show)


@app.command()
def retry(
    ctx: typer.Context, prefect: PrefectOption = None, show: ShowOption = False, db: DbOption = None
) -> None:
    """Fetch again, now, every failing URL that was not given up."""
    settings = _orchestration(_settings(ctx, db), prefect)
    summary = run_job(settings, "retry_failures")
    _report(settings, summary, show)


@app.command()
def reprocess(
    ctx: typer.Context,
    all_pages: Annotated[
        bool,
        typer.Option(
            "--all", help="Re-extract every archived page, not only those from an older extractor"
        ),
    ] = False,
    from_warc: Annotated[
        Path | None,
        typer.Option(
            "--from-warc",
            help="Rebuild revisions from the .warc.gz files of this folder alone (into --db)",
        ),
    ] = None,
    prefect: PrefectOption = None,
    show: ShowOption = False,
    db: DbOption = None,
) -> None:
    """Re-extract archived raw pages with the current extractor (no fetching)."""
    if from_warc is not None:
        from newsledger.tasks.archive.rebuild import run_rebuild_from_warc

        if not from_warc.is_dir():
            raise typer.BadParameter(f"{from_warc} is not a folder", param_hint="'--from-warc'")
        settings = _settings(ctx, db)
        _report(settings, run_rebuild_from_warc(settings, from_warc).as_dict(), show)
        return
    settings = _orchestration(_settings(ctx, db), prefect)
    summary = run_job(settings, "reprocess", all_pages=all_pages)
    _report(settings, summary, show)


@app.command()
def failures(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Show at most this many inputs")] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """What failed, why, and how often (one row per input, newest first; times in UTC)."""
    from newsledger.tasks.store import open_reader, sql

    with open_reader(_settings(ctx, db), locked_down=False) as conn:
        cursor = conn.execute(sql("failures_report"), {"limit": limit})
        names = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    if as_json:
        render_rows(names, rows)
        return
    if not rows:
        out.print("no failures recorded")
        return
    table = Table(show_edge=False)
    for name in ("input", "stage", "error", "reason", "times", "last failed (UTC)", "status"):
        table.add_column(name, overflow="fold")
    for row in rows:
        record = dict(zip(names, row, strict=True))
        status = (
            "recovered"
            if record["recovered"]
            else "refused by policy, not retried"
            if record["refused"]
            else "given up"
            if record["gave_up"]
            else f"retry after {_time(record['next_retry_at'])}"
            if record["next_retry_at"]
            else "failing"
        )
        table.add_row(
            record["input"],
            record["stage"],
            record["error"],
            record["reason"],
            str(record["failures"]),
            _time(record["last_failed_at"]),
            status,
        )
    out.print(table)


# --- history / diff -----------------------------------------------------------------------------


@app.command()
def history(
    ctx: typer.Context,
    article: Annotated[str, typer.Argument(help="Article id (or 6+ char prefix), URL or path")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Every revision of a story: when (UTC), content hash, and how much changed."""
    from newsledger.tasks.ledger import article_revisions, resolve_article
    from newsledger.tasks.store import open_reader

    with open_reader(_settings(ctx, db), locked_down=False) as conn:
        ref = resolve_article(conn, article)
        revisions = article_revisions(conn, ref.article_id)
    if as_json:
        render_records(
            {"article_id": ref.article_id, "identity": ref.identity, **r} for r in revisions
        )
        return
    table = Table(title=f"{ref.identity}  ({ref.article_id})", show_edge=False)
    for name, justify in (
        ("rev", "right"),
        ("observed (UTC)", "left"),
        ("hash", "left"),
        ("words", "right"),
        ("+added", "right"),
        ("-removed", "right"),
        ("changed", "left"),
        ("seen", "right"),
        ("published", "left"),
        ("why", "left"),
        ("title", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in revisions:
        table.add_row(
            str(r["revision"]),
            _time(r["observed_at"]),
            r["content_hash"][:12],
            str(r["word_count"]),
            f"+{r['words_added']}",
            f"-{r['words_removed']}",
            ", ".join(r["changed_fields"]) or "—",
            str(r["times_seen"]),
            r["published"] or _from_feed(r["feed_published"]),
            r["change_reason"] or "—",
            r["title"] or _from_feed(r["feed_title"]),
        )
    out.print(table)
    from_feed = sorted(
        {
            r["feed_name"]
            for r in revisions
            if (r["title"] is None and r["feed_title"])
            or (r["published"] is None and r["feed_published"])
        }
    )
    if from_feed:
        out.print(
            f"(feed): the page states none; what the feed {', '.join(from_feed)} says. "
            'All the feeds said of it: newsledger sql "SELECT * FROM feed_entry_metadata '
            f"WHERE article_id = '{ref.article_id}'\"",
            highlight=False,
            markup=False,
        )


def _from_feed(value: str | None) -> str:
    """A history cell the page left empty: the feed's value, marked as the feed's."""
    return f"{value} (feed)" if value else "—"


def _time(value: datetime) -> str:
    """A time as the tables show it: UTC, to the second (columns say "(UTC)")."""
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S")


@app.command()
def diff(
    ctx: typer.Context,
    article: Annotated[str, typer.Argument(help="Article id (or 6+ char prefix), URL or path")],
    from_revision: Annotated[int | None, typer.Option("--from", help="Older revision")] = None,
    to_revision: Annotated[int | None, typer.Option("--to", help="Newer revision")] = None,
    context: Annotated[int, typer.Option(help="Unchanged words shown around a change")] = 8,
    db: DbOption = None,
) -> None:
    """Word-level diff between two revisions (coloured in a terminal, plain when piped)."""
    from newsledger.tasks.diff import word_diff
    from newsledger.tasks.ledger import article_revisions, resolve_article, revision_detail
    from newsledger.tasks.store import open_reader

    with open_reader(_settings(ctx, db), locked_down=False) as conn:
        ref = resolve_article(conn, article)
        latest = len(article_revisions(conn, ref.article_id))
        to_n = to_revision or latest
        from_n = from_revision or max(1, to_n - 1)
        old = revision_detail(conn, ref.article_id, from_n)
        new = revision_detail(conn, ref.article_id, to_n)
    colour = out.is_terminal
    out.print(f"{ref.identity}  ({ref.article_id})", highlight=False)
    out.print(
        f"revision {old.revision} ({_time(old.observed_at)} UTC) → revision {new.revision} "
        f"({_time(new.observed_at)} UTC)",
        highlight=False,
    )
    for label, before, after in (
        ("title", old.title, new.title),
        ("authors", ", ".join(old.authors), ", ".join(new.authors)),
        ("published", old.published, new.published),
        ("modified", old.modified, new.modified),
    ):
        if before != after:
            out.print(f"{label}: {before or '—'} → {after or '—'}", highlight=False)
    if old.text == new.text:
        out.print("text: unchanged")
        return
    body = Text()
    for piece in word_diff(old.text, new.text, context=context):
        if piece.kind == "same":
            body.append(piece.text)
        elif piece.kind == "gap":
            body.append(" … " if colour else " ... ", style="dim")
        elif piece.kind == "removed":
            body.append(piece.text if colour else f"[-{piece.text}-]", style="red strike")
        else:
            body.append(piece.text if colour else f"{{+{piece.text}+}}", style="green")
        body.append(" ")
    out.print(body, highlight=False, markup=False, soft_wrap=not colour)


# --- sql ----------------------------------------------------------------------------------------


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

    settings = _settings(ctx, db)
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
        err.print(
            Text.assemble(("SQL error: ", "red"), str(error)), highlight=False, soft_wrap=True
        )
        raise typer.Exit(_exit_code(error)) from None


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
            err.print(f"wrote {count} rows to {output}", highlight=False)
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
                out.print(_UnderDeadline(table, lambda: deadline.check(settings)))
                if more:
                    err.print(
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


# --- Prefect: serve, submit, setup-prefect ------------------------------------------------------


def _require_prefect_server(settings: Settings, command: str) -> str:
    """The API URL of the configured, running Prefect server (exported to PREFECT_API_URL for
    Prefect and the flow runs it starts); a clear message and exit code 1 otherwise."""
    import os

    from newsledger.flows.runtime import configured_api_url, server_is_up

    prepare_prefect_environment(settings)
    url = configured_api_url(settings)
    hint = (
        "start one with `prefect server start` and point newsledger at it with "
        "`export PREFECT_API_URL=http://127.0.0.1:4200/api`"
    )
    if not url:
        err.print(f"[red]error:[/red] `newsledger {command}` needs a Prefect server: {hint}")
        raise typer.Exit(1)
    if not server_is_up(url, timeout=5.0):
        err.print(
            f"[red]error:[/red] no Prefect server answers at PREFECT_API_URL={url}: {hint}",
            highlight=False,
        )
        raise typer.Exit(1)
    os.environ["PREFECT_API_URL"] = url
    return url


@app.command()
def serve(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(help="Deployments file (default: ./prefect.yaml, else the checkout's)"),
    ] = None,
    poll_seconds: Annotated[
        float | None,
        typer.Option(
            help="How often to look for runs to start (default: $NEWSLEDGER_SERVE_POLL_SECONDS "
            "or 2; a new flow run's event wakes serve at once, the poll is the fallback)"
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help="Flow runs at once at most (default: $NEWSLEDGER_SERVE_RUN_LIMIT or 4)"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve every deployment of prefect.yaml from this process: schedules and event triggers
    included, no worker needed. Needs a Prefect server (PREFECT_API_URL)."""
    import os

    settings = _settings(ctx, db)
    url = _require_prefect_server(settings, "serve")
    from newsledger.flows.serve import find_config, serve_all
    from newsledger.tasks.prefect_tasks import ensure_write_limit

    path = find_config(config)
    # Flow runs start in child processes: give them this command's ledger.
    os.environ["NEWSLEDGER_DB"] = str(settings.db.expanduser().resolve())
    ensure_write_limit(settings.write_limit)
    poll = poll_seconds or settings.serve_poll_seconds
    err.print(
        f"serving the deployments of {path} on {url} (ledger {os.environ['NEWSLEDGER_DB']}, "
        f"looking for runs every {poll:g} s); Ctrl+C stops",
        highlight=False,
    )
    status = serve_all(path, poll_seconds=poll, limit=limit or settings.serve_run_limit)
    if status:
        raise typer.Exit(1)


@app.command()
def submit(
    ctx: typer.Context,
    urls: Annotated[list[str], typer.Argument(help="Page URLs to ingest")],
    db: DbOption = None,
) -> None:
    """Ask the served or deployed `ingest-urls` deployment to store pages: sends one
    `newsledger.url.submitted` event per URL to the Prefect server (PREFECT_API_URL)."""
    from newsledger.flows.runtime import api_headers
    from newsledger.flows.serve import send_events
    from newsledger.tasks.events import submitted_event

    settings = _settings(ctx, db)
    api_url = _require_prefect_server(settings, "submit")
    events = [submitted_event(u) for u in urls]
    ids = send_events(api_url, events, headers=api_headers(settings))
    for url, event_id in zip(urls, ids, strict=True):
        out.print(f"submitted {url}  (event {event_id})", highlight=False)


@app.command("setup-prefect")
def setup_prefect(
    ctx: typer.Context,
    pool: Annotated[str, typer.Option(help="Process work pool for `prefect deploy`")] = (
        "newsledger"
    ),
    db: DbOption = None,
) -> None:
    """Create, on the Prefect server, the 1-slot global concurrency limit every ledger write
    goes through and the process work pool of prefect.yaml (both kept if they exist)."""
    settings = _settings(ctx, db)
    url = _require_prefect_server(settings, "setup-prefect")
    from newsledger.flows.serve import ensure_work_pool
    from newsledger.tasks.prefect_tasks import ensure_write_limit

    made = ensure_write_limit(settings.write_limit)
    out.print(
        f"global concurrency limit {settings.write_limit!r} (1 slot): "
        f"{'created' if made else 'already there'} on {url}",
        highlight=False,
    )
    made = ensure_work_pool(pool)
    out.print(
        f"process work pool {pool!r}: {'created' if made else 'already there'}", highlight=False
    )


@app.command("watch")
def watch_command(
    ctx: typer.Context,
    article: Annotated[
        str | None,
        typer.Argument(help="Story to watch: article id (or 6+ char prefix), URL or path"),
    ] = None,
    outlet: Annotated[
        str | None, typer.Option(help="Watch every story of this outlet (any case)")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(help="Watch every story whose revised text has all these words (stemmed)"),
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(help="URL the change summary is POSTed to (JSON)")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Name of the watch (default: from what it watches)")
    ] = None,
    list_watches: Annotated[bool, typer.Option("--list", help="List the watches")] = False,
    remove: Annotated[
        str | None, typer.Option(help="Remove the watch of this name (and its webhook block)")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Be told when stories change: a Prefect automation on `newsledger.article.revised`
    (one story, an outlet or a search) that POSTs a summary of the change to a webhook.
    Needs a Prefect server (PREFECT_API_URL); the flows must run there (serve or a worker)."""
    from newsledger.flows.runtime import api_headers
    from newsledger.tasks import notify

    settings = _settings(ctx, db)
    chosen = [k for k, v in (("ARTICLE", article), ("--outlet", outlet), ("--search", search)) if v]
    modes = len(chosen) + bool(list_watches) + bool(remove)
    if modes != 1 or len(chosen) > 1:
        raise UsageError(
            "give one of ARTICLE, --outlet O or --search Q (with --webhook URL), "
            "or --list, or --remove NAME"
        )
    if chosen and not webhook:
        raise UsageError(f"{chosen[0]} needs --webhook URL (where to send the notifications)")
    api_url = _require_prefect_server(settings, "watch")
    rest = notify.PrefectRest(api_url, api_headers(settings))

    if list_watches:
        watches = rest.watches()
        if as_json:
            for w in watches:
                out.print(notify.as_json(w), highlight=False, soft_wrap=True)
            return
        table = Table(title=f"watches on {api_url}", show_edge=False)
        for column in ("name", "kind", "watches", "webhook", "enabled"):
            table.add_column(column, overflow="fold")
        for w in watches:
            table.add_row(w.name, w.kind, w.value, w.webhook, "yes" if w.enabled else "no")
        out.print(table)
        return
    if remove:
        gone = rest.remove_watch(remove)
        out.print(
            f"removed the watch {gone.name!r} ({notify.describe(gone.kind, gone.value)})",
            highlight=False,
        )
        return

    assert webhook is not None
    notify.check_webhook(webhook)
    kind: notify.WatchKind
    if article:
        from newsledger.tasks.ledger import resolve_article
        from newsledger.tasks.store import open_reader

        with open_reader(settings, locked_down=False) as conn:
            value = resolve_article(conn, article).article_id
        kind = "story"
    elif outlet:
        kind, value = "outlet", " ".join(outlet.split())
    else:
        assert search is not None
        kind, value = "search", " ".join(search.split())
        terms = notify.query_terms(settings, value)
        if terms is not None and not terms:
            raise UsageError(f"the search {value!r} has only stop words: nothing to match")
    made = rest.create_watch(
        notify.Watch(
            notify.check_name(name or notify.default_name(kind, value)),
            kind,
            value,
            notify.redact(webhook),
        ),
        webhook,
    )
    if as_json:
        out.print(notify.as_json(made), highlight=False, soft_wrap=True)
        return
    out.print(
        f"watch {made.name!r}: each revision of {notify.describe(kind, value)} is POSTed "
        f"to {made.webhook} (automation {made.automation_id})",
        highlight=False,
    )


# --- query: search, index, export, stats --------------------------------------------------------


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

    settings = _settings(ctx, db)
    since_value = parse_since(since) if since else None
    status = search_index_status(settings)
    if refresh_index and not status.current:
        err.print(f"[dim]indexing {status.behind} new revisions for search…[/dim]")
        try:
            refresh_search_index(
                settings.model_copy(
                    update={"lock_timeout_seconds": min(settings.lock_timeout_seconds, 10.0)}
                )
            )
        except DatabaseLockedError:
            err.print(
                "[yellow]the ledger is busy (another process is writing): searching the "
                "index as it is[/yellow]"
            )
    results = run_search(
        settings, query, all_revisions=all_revisions, since=since_value, limit=limit
    )
    if results.status.behind:
        err.print(
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
        err.print(
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
                f"   rev {hit.revision} of {hit.latest_revision} · {_time(hit.observed_at)}"
                + (f" · {hit.outlet}" if hit.outlet else ""),
                "dim",
            ),
        )
        out.print(head, highlight=False)
        out.print(Text(f"    {hit.identity}  ({hit.article_id})", style="dim"), highlight=False)
        snippet = Text("    " + hit.snippet)
        snippet.highlight_words(hit.highlights, style="bold yellow", case_sensitive=True)
        out.print(snippet, highlight=False)
        if hit.note:
            out.print(Text(f"    ↳ {hit.note}", style="magenta"), highlight=False)


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

    settings = _settings(ctx, db)
    search_index_status(settings)  # a clear error, not a new empty file, for a wrong --db
    report = refresh_search_index(settings, rebuild=rebuild)
    status = search_index_status(settings)
    if report.skipped:
        out.print(
            f"search index already current: {status.indexed_revisions} revisions", highlight=False
        )
    else:
        out.print(
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

    settings = _settings(ctx, db)
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
        err.print(Text.assemble(("error: ", "red"), str(error)), highlight=False, soft_wrap=True)
        raise typer.Exit(_exit_code(error)) from None
    out.print(f"wrote {count} rows to {output} ({output_format.value})", highlight=False)


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
        _settings(ctx, db),
        output,
        story=story,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
        force=force,
    )
    missing = f"; {result.missing} exchanges missing from the archive" if result.missing else ""
    out.print(
        f"wrote {result.exchanges} exchanges of {result.fetches} fetches to {output} (warc)"
        f"{missing}",
        highlight=False,
    )


def _export_partitioned(
    ctx: typer.Context, output: Path, partition_by: str, everything: bool, db: Path | None
) -> None:
    from newsledger.tasks.exports import export_partitioned

    # A NewsledgerError (an unknown key, no ledger) is printed by main(), exit 2 or 1.
    result = export_partitioned(_settings(ctx, db), output, partition_by, everything=everything)
    cleaned = (
        f"; removed {result.cleaned_files} files of earlier exports" if result.cleaned_files else ""
    )
    out.print(
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

    result = ledger_stats(_settings(ctx, db), days=days, top=top)
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
        return "—" if value is None else _time(value) if isinstance(value, datetime) else str(value)

    def show(title: str, data: ResultTable) -> None:
        table = Table(title=title, show_edge=False, title_justify="left")
        for name in data.names:
            table.add_column(name.replace("_", " "), overflow="fold")
        for row in data.rows:
            table.add_row(*(cell(v) for v in row))
        out.print(table)
        out.print()

    totals = Table(title="ledger", show_header=False, show_edge=False, title_justify="left")
    totals.add_column(style="bold")
    totals.add_column(justify="right")
    for name, value in zip(result.totals.names, result.totals.rows[0], strict=True):
        totals.add_row(name.replace("_", " "), cell(value))
    out.print(totals)
    out.print()
    show(f"per outlet and day (latest {days} days with revisions)", result.per_outlet_day)
    show("revisions per story", result.revisions_per_story)
    show(f"most-edited stories (top {top})", result.most_edited)


# --- web (the read-only web view: tasks/webview) ------------------------------------------------


@app.command()
def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port)")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve a read-only web view of the ledger: stories, diffs, feeds, JSON (127.0.0.1)."""
    from newsledger.tasks.webview.server import serve as serve_web

    serve_web(_settings(ctx, db), host, port)


def _exit_code(error: NewsledgerError) -> int:
    """2 for a usage error (a command line that cannot be run), 1 for every other failure."""
    return 2 if isinstance(error, UsageError) else 1


def main() -> None:
    try:
        app(prog_name="newsledger")
    except NewsledgerError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(_exit_code(error))


if __name__ == "__main__":
    main()
