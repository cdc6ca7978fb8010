"""The pipeline commands (``ingest``, ``poll``, ``refresh``, ``retry``, ``reprocess``) and
their one job runner: a command names a flow of ``flows/ingest.py`` or ``flows/web.py`` and its
parameters; it runs as that Prefect flow run, or in-process as the plain function the flow
wraps (``flows/runtime.py`` decides)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from newsledger.flows.cli.app import (
    DbOption,
    JsonOption,
    PrefectOption,
    app,
    err,
    out,
    settings_for,
)
from newsledger.flows.cli.render import json_line
from newsledger.flows.runtime import decide_orchestration, prepare_prefect_environment
from newsledger.tasks.settings import Settings
from rich.table import Table

if TYPE_CHECKING:  # the pipeline (and DuckDB) load only for commands that run one
    from newsledger.tasks.pipeline import RunContext


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="ingest summary", show_edge=False)
    for name in ("new", "revised", "unchanged", "failed", "skipped"):
        table.add_column(name, justify="right")
    table.add_row(
        *(str(summary[name]) for name in ("new", "revised", "unchanged", "failed", "skipped"))
    )
    out().print(table)
    if summary["failures"]:
        failures = Table(title="failed inputs", show_edge=False)
        for name in ("input", "stage", "error", "reason"):
            failures.add_column(name, overflow="fold")
        for failure in summary["failures"]:
            failures.add_row(
                failure["input"], failure["stage"], failure["error"], failure["message"]
            )
        err().print(failures)


def _print_stored(settings: Settings, article_ids: Sequence[str]) -> None:
    from newsledger.tasks.ledger import stored_stories

    for story in stored_stories(settings, article_ids):
        table = Table(
            show_header=False,
            show_edge=False,
            title=f"{story.identity}  (revision {story.revision})",
        )
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for label, value in (
            ("article id", story.article_id),
            ("title", story.title),
            ("authors", ", ".join(story.authors)),
            ("outlet", story.outlet),
            ("published", story.published),
            ("modified", story.modified),
            ("dateline", story.dateline),
            ("language", story.language),
            ("words", story.word_count),
            ("sections", " | ".join(story.section_headings)),
            ("update notes", " | ".join(story.update_notes)),
            ("lede", story.lede),
        ):
            table.add_row(label, "—" if value in (None, "") else str(value))
        out().print(table)


# One job runner: every pipeline command names a flow of flows/ingest.py or flows/web.py and
# its parameters (as prefect.yaml names them); it runs as that Prefect flow, or in-process as
# the plain function the flow wraps.
FLOW_MODULES = {"ingest_files": "newsledger.flows.ingest"}  # the others: newsledger.flows.web


def _run_here(
    settings: Settings, context: RunContext, flow: str, **parameters: Any
) -> dict[str, Any]:
    """The in-process run of the flow ``flow``: the plain function it wraps, given the flow's
    parameters, without Prefect."""
    if flow == "ingest_files":  # the file fast path: no web modules (httpx, feedparser…)
        from newsledger.tasks import pipeline

        return pipeline.run_file_ingest(parameters["paths"], settings, context=context).as_dict()
    from newsledger.tasks import crawl

    if flow == "ingest_urls":
        return crawl.run_url_ingest(parameters["urls"], settings, context=context).as_dict()
    if flow == "poll_feeds":
        feeds = parameters["feeds_file"]
        summary, poll = crawl.run_poll(
            Path(feeds) if feeds else None,
            settings,
            everything=parameters["all_feeds"],
            context=context,
        )
        return {**summary.as_dict(), "feeds": poll.feed_reports}
    if flow == "refresh_articles":
        return crawl.run_refresh(
            settings,
            everything=parameters["all_articles"],
            limit=parameters["limit"],
            context=context,
        ).as_dict()
    if flow == "retry_failures":
        return crawl.run_retry(settings, context=context).as_dict()
    if flow == "reprocess":
        return crawl.run_reprocess(
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
        err().print(f"[yellow]{orchestration.note}[/yellow]", highlight=False, soft_wrap=True)
    if orchestration.prefect:
        prepare_prefect_environment(settings)
        err().print("[dim]running as a Prefect flow run[/dim]")
        module = importlib.import_module(FLOW_MODULES.get(flow, "newsledger.flows.web"))
        result: dict[str, Any] = getattr(module, flow)(**parameters, db=str(settings.db))
        return result
    from newsledger.tasks.pipeline import RunContext

    if not err().is_terminal:
        return _run_here(settings, RunContext(), flow, **parameters)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err(),
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
        json_line(summary)
        if summary["failed"]:
            raise typer.Exit(1)
        return
    _print_summary(summary)
    changed = [o["article_id"] for o in summary.get("stored", [])]
    if show and changed:
        _print_stored(settings, changed[:10])
    if summary["failed"]:
        raise typer.Exit(1)


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
    settings = _orchestration(settings_for(ctx, db), prefect)
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
    settings = _orchestration(settings_for(ctx, db), prefect)
    summary = run_job(
        settings, "poll_feeds", feeds_file=str(feeds) if feeds else None, all_feeds=all_feeds
    )
    table = Table(title="feeds", show_edge=False)
    for name in ("feed", "status", "entries"):
        table.add_column(name)
    for report in summary.get("feeds", []):
        table.add_row(report["feed"], report.get("status", "—"), str(report.get("entries", "—")))
    out().print(table)
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
    settings = _orchestration(settings_for(ctx, db), prefect)
    summary = run_job(settings, "refresh_articles", all_articles=all_articles, limit=limit)
    _report(settings, summary, show)


@app.command()
def retry(
    ctx: typer.Context, prefect: PrefectOption = None, show: ShowOption = False, db: DbOption = None
) -> None:
    """Fetch again, now, every failing URL that was not given up."""
    settings = _orchestration(settings_for(ctx, db), prefect)
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
        settings = settings_for(ctx, db)
        _report(settings, run_rebuild_from_warc(settings, from_warc).as_dict(), show)
        return
    settings = _orchestration(settings_for(ctx, db), prefect)
    summary = run_job(settings, "reprocess", all_pages=all_pages)
    _report(settings, summary, show)
