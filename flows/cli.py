"""The ``newsledger`` command line: a thin layer over plain functions and Prefect flows.

Fast path: commands import neither Prefect nor trafilatura unless they need them (see
``flows/runtime.py`` for when a command becomes a Prefect flow run).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from newsledger.flows.runtime import prepare_prefect_environment, use_prefect
from newsledger.tasks.errors import NewsledgerError
from newsledger.tasks.settings import Settings
from rich.console import Console
from rich.table import Table
from rich.text import Text

app = typer.Typer(
    name="newsledger",
    help="Keep every revision of every news story in a DuckDB ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@app.callback()
def options(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="Ledger file (default: $NEWSLEDGER_DB or data/newsledger.duckdb)"
        ),
    ] = None,
) -> None:
    settings = Settings()
    ctx.obj = settings.model_copy(update={"db": db}) if db else settings


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
    from newsledger.tasks.store import open_reader

    with open_reader(settings, locked_down=False) as conn:
        rows = conn.execute(
            "SELECT article_id, revision, identity, title, authors, outlet, published_at, "
            "modified_at, dateline, language, word_count, section_headings, update_notes, lede "
            "FROM latest_revisions WHERE article_id IN (SELECT unnest($ids)) ORDER BY identity",
            {"ids": list(article_ids)},
        ).fetchall()
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


def _execute(
    settings: Settings,
    local: Callable[[Callable[[int, int], None] | None], dict[str, Any]],
    as_flow: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run a command in-process (with a progress bar on a terminal) or as a Prefect flow run."""
    if use_prefect(settings):
        prepare_prefect_environment(settings)
        err.print("[dim]running as a Prefect flow run[/dim]")
        return as_flow()
    if not err.is_terminal:
        return local(None)
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

        return local(on_progress)


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


def _report(settings: Settings, summary: dict[str, Any], show: bool) -> None:
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
) -> None:
    """Ingest local articles (text in the seed format, .html/.htm, .html.gz) and web pages."""
    settings = _orchestration(_settings(ctx), prefect)
    urls = [s for s in sources if s.lower().startswith(("http://", "https://"))]
    paths = [s for s in sources if s not in urls]
    summaries = []
    if paths:
        from newsledger.tasks.pipeline import run_file_ingest

        def files_flow() -> dict[str, Any]:
            from newsledger.flows.ingest import ingest_files

            return ingest_files(paths=paths, db=str(settings.db))

        summaries.append(
            _execute(
                settings,
                lambda progress: run_file_ingest(paths, settings, on_progress=progress).as_dict(),
                files_flow,
            )
        )
    if urls:
        from newsledger.tasks.web import run_url_ingest

        def urls_flow() -> dict[str, Any]:
            from newsledger.flows.web import ingest_urls

            return ingest_urls(urls=urls, db=str(settings.db))

        summaries.append(
            _execute(
                settings,
                lambda progress: run_url_ingest(urls, settings, on_progress=progress).as_dict(),
                urls_flow,
            )
        )
    _report(settings, _merge(summaries), show)


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
) -> None:
    """Poll RSS/Atom feeds and store every new story they list."""
    from newsledger.tasks.web import run_poll

    settings = _orchestration(_settings(ctx), prefect)

    def local(progress: Callable[[int, int], None] | None) -> dict[str, Any]:
        summary, report = run_poll(feeds, settings, everything=all_feeds, on_progress=progress)
        return {**summary.as_dict(), "feeds": report.feed_reports}

    def as_flow() -> dict[str, Any]:
        from newsledger.flows.web import poll_feeds

        return poll_feeds(
            feeds_file=str(feeds) if feeds else None, all_feeds=all_feeds, db=str(settings.db)
        )

    summary = _execute(settings, local, as_flow)
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
) -> None:
    """Revisit known stories that are due, so updates become revisions."""
    from newsledger.tasks.web import run_refresh

    settings = _orchestration(_settings(ctx), prefect)

    def as_flow() -> dict[str, Any]:
        from newsledger.flows.web import refresh_articles

        return refresh_articles(all_articles=all_articles, limit=limit, db=str(settings.db))

    summary = _execute(
        settings,
        lambda progress: run_refresh(
            settings, everything=all_articles, limit=limit, on_progress=progress
        ).as_dict(),
        as_flow,
    )
    _report(settings, summary, show)


@app.command()
def retry(ctx: typer.Context, prefect: PrefectOption = None, show: ShowOption = False) -> None:
    """Fetch again, now, every failing URL that was not given up."""
    from newsledger.tasks.web import run_retry

    settings = _orchestration(_settings(ctx), prefect)

    def as_flow() -> dict[str, Any]:
        from newsledger.flows.web import retry_failures

        return retry_failures(db=str(settings.db))

    summary = _execute(
        settings, lambda progress: run_retry(settings, on_progress=progress).as_dict(), as_flow
    )
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
    prefect: PrefectOption = None,
    show: ShowOption = False,
) -> None:
    """Re-extract archived raw pages with the current extractor (no fetching)."""
    from newsledger.tasks.web import run_reprocess

    settings = _orchestration(_settings(ctx), prefect)

    def as_flow() -> dict[str, Any]:
        from newsledger.flows.web import reprocess as reprocess_flow

        return reprocess_flow(all_pages=all_pages, db=str(settings.db))

    summary = _execute(
        settings,
        lambda progress: run_reprocess(
            settings, everything=all_pages, on_progress=progress
        ).as_dict(),
        as_flow,
    )
    _report(settings, summary, show)


@app.command()
def failures(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Show at most this many inputs")] = 50,
) -> None:
    """What failed, why, and how often (one row per input, newest first)."""
    from newsledger.tasks.store import open_reader, sql

    with open_reader(_settings(ctx), locked_down=False) as conn:
        cursor = conn.execute(sql("failures_report"), {"limit": limit})
        names = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    if not rows:
        out.print("no failures recorded")
        return
    table = Table(show_edge=False)
    for name in ("input", "stage", "error", "reason", "times", "last failed", "status"):
        table.add_column(name, overflow="fold")
    for row in rows:
        record = dict(zip(names, row, strict=True))
        status = (
            "recovered"
            if record["recovered"]
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
) -> None:
    """Every revision of a story: when, content hash, and how much changed."""
    from newsledger.tasks.ledger import article_revisions, resolve_article
    from newsledger.tasks.store import open_reader

    with open_reader(_settings(ctx), locked_down=False) as conn:
        ref = resolve_article(conn, article)
        revisions = article_revisions(conn, ref.article_id)
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
            r["title"] or "—",
        )
    out.print(table)


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


@app.command()
def diff(
    ctx: typer.Context,
    article: Annotated[str, typer.Argument(help="Article id (or 6+ char prefix), URL or path")],
    from_revision: Annotated[int | None, typer.Option("--from", help="Older revision")] = None,
    to_revision: Annotated[int | None, typer.Option("--to", help="Newer revision")] = None,
    context: Annotated[int, typer.Option(help="Unchanged words shown around a change")] = 8,
) -> None:
    """Word-level diff between two revisions (coloured in a terminal, plain when piped)."""
    from newsledger.tasks.diff import word_diff
    from newsledger.tasks.ledger import article_revisions, resolve_article, revision_detail
    from newsledger.tasks.store import open_reader

    with open_reader(_settings(ctx), locked_down=False) as conn:
        ref = resolve_article(conn, article)
        latest = len(article_revisions(conn, ref.article_id))
        to_n = to_revision or latest
        from_n = from_revision or max(1, to_n - 1)
        old = revision_detail(conn, ref.article_id, from_n)
        new = revision_detail(conn, ref.article_id, to_n)
    colour = out.is_terminal
    out.print(f"{ref.identity}  ({ref.article_id})", highlight=False)
    out.print(
        f"revision {old.revision} ({_time(old.observed_at)}) → revision {new.revision} "
        f"({_time(new.observed_at)})",
        highlight=False,
    )
    for label, before, after in (
        ("title", old.title, new.title),
        ("authors", ", ".join(old.authors), ", ".join(new.authors)),
        ("published", old.published_at, new.published_at),
        ("modified", old.modified_at, new.modified_at),
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@app.command("sql")
def sql_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A read-only SQL query")],
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """Run a read-only SQL query against the ledger (no writes, no access to other files)."""
    import duckdb
    from newsledger.tasks.store import open_reader

    with open_reader(_settings(ctx)) as conn:
        try:
            cursor = conn.execute(query)
            names = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
        except duckdb.Error as error:
            err.print(f"[red]SQL error:[/red] {error}", highlight=False, markup=True)
            raise typer.Exit(2) from None
    if output_format is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows(rows)
    elif output_format is OutputFormat.json:
        records = [dict(zip(names, row, strict=True)) for row in rows]
        sys.stdout.write(
            json.dumps(records, default=_jsonable, ensure_ascii=False, indent=2) + "\n"
        )
    else:
        table = Table(show_edge=False)
        for name in names:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*("NULL" if v is None else str(v) for v in row))
        out.print(table)


def main() -> None:
    try:
        app()
    except NewsledgerError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
