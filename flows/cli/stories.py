"""Commands that show what the ledger holds about stories: ``failures``, ``history``,
``diff`` (times in UTC). Their reads are plain functions of ``tasks/ledger.py``."""

from __future__ import annotations

from typing import Annotated

import typer
from newsledger.flows.cli.app import DbOption, JsonOption, app, out, settings_for
from newsledger.flows.cli.render import render_records, render_rows, utc_time
from rich.table import Table
from rich.text import Text


@app.command()
def failures(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Show at most this many inputs")] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """What failed, why, and how often (one row per input, newest first; times in UTC)."""
    from newsledger.tasks.ledger import failure_report

    report = failure_report(settings_for(ctx, db), limit)
    if as_json:
        render_rows(report.names, report.rows)
        return
    if not report.rows:
        out().print("no failures recorded")
        return
    table = Table(show_edge=False)
    for name in ("input", "stage", "error", "reason", "times", "last failed (UTC)", "status"):
        table.add_column(name, overflow="fold")
    for row in report.rows:
        record = dict(zip(report.names, row, strict=True))
        status = (
            "recovered"
            if record["recovered"]
            else "refused by policy, not retried"
            if record["refused"]
            else "given up"
            if record["gave_up"]
            else f"retry after {utc_time(record['next_retry_at'])}"
            if record["next_retry_at"]
            else "failing"
        )
        table.add_row(
            record["input"],
            record["stage"],
            record["error"],
            record["reason"],
            str(record["failures"]),
            utc_time(record["last_failed_at"]),
            status,
        )
    out().print(table)


@app.command()
def history(
    ctx: typer.Context,
    article: Annotated[str, typer.Argument(help="Article id (or 6+ char prefix), URL or path")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Every revision of a story: when (UTC), content hash, and how much changed."""
    from newsledger.tasks.ledger import story_history

    ref, revisions = story_history(settings_for(ctx, db), article)
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
            utc_time(r["observed_at"]),
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
    out().print(table)
    from_feed = sorted(
        {
            r["feed_name"]
            for r in revisions
            if (r["title"] is None and r["feed_title"])
            or (r["published"] is None and r["feed_published"])
        }
    )
    if from_feed:
        out().print(
            f"(feed): the page states none; what the feed {', '.join(from_feed)} says. "
            'All the feeds said of it: newsledger sql "SELECT * FROM feed_entry_metadata '
            f"WHERE article_id = '{ref.article_id}'\"",
            highlight=False,
            markup=False,
        )


def _from_feed(value: str | None) -> str:
    """A history cell the page left empty: the feed's value, marked as the feed's."""
    return f"{value} (feed)" if value else "—"


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
    from newsledger.tasks.ledger import story_revisions

    pair = story_revisions(settings_for(ctx, db), article, from_revision, to_revision)
    ref, old, new = pair.ref, pair.old, pair.new
    colour = out().is_terminal
    out().print(f"{ref.identity}  ({ref.article_id})", highlight=False)
    out().print(
        f"revision {old.revision} ({utc_time(old.observed_at)} UTC) → revision {new.revision} "
        f"({utc_time(new.observed_at)} UTC)",
        highlight=False,
    )
    for label, before, after in (
        ("title", old.title, new.title),
        ("authors", ", ".join(old.authors), ", ".join(new.authors)),
        ("published", old.published, new.published),
        ("modified", old.modified, new.modified),
    ):
        if before != after:
            out().print(f"{label}: {before or '—'} → {after or '—'}", highlight=False)
    if old.text == new.text:
        out().print("text: unchanged")
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
    out().print(body, highlight=False, markup=False, soft_wrap=not colour)
