"""Commands that need a Prefect server: ``serve``, ``submit``, ``setup-prefect`` and
``watch`` (notifications of revised stories)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from newsledger.flows.cli.app import DbOption, JsonOption, app, err, out, settings_for
from newsledger.flows.runtime import prepare_prefect_environment
from newsledger.tasks.errors import UsageError
from newsledger.tasks.settings import Settings
from rich.table import Table


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
        err().print(f"[red]error:[/red] `newsledger {command}` needs a Prefect server: {hint}")
        raise typer.Exit(1)
    if not server_is_up(url, timeout=5.0):
        err().print(
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

    settings = settings_for(ctx, db)
    url = _require_prefect_server(settings, "serve")
    from newsledger.flows.serve import find_config, serve_all
    from newsledger.tasks.prefect_tasks import ensure_write_limit

    path = find_config(config)
    # Flow runs start in child processes: give them this command's ledger.
    os.environ["NEWSLEDGER_DB"] = str(settings.db.expanduser().resolve())
    ensure_write_limit(settings.write_limit)
    poll = poll_seconds or settings.serve_poll_seconds
    err().print(
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

    settings = settings_for(ctx, db)
    api_url = _require_prefect_server(settings, "submit")
    events = [submitted_event(u) for u in urls]
    ids = send_events(api_url, events, headers=api_headers(settings))
    for url, event_id in zip(urls, ids, strict=True):
        out().print(f"submitted {url}  (event {event_id})", highlight=False)


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
    settings = settings_for(ctx, db)
    url = _require_prefect_server(settings, "setup-prefect")
    from newsledger.flows.serve import ensure_work_pool
    from newsledger.tasks.prefect_tasks import ensure_write_limit

    made = ensure_write_limit(settings.write_limit)
    out().print(
        f"global concurrency limit {settings.write_limit!r} (1 slot): "
        f"{'created' if made else 'already there'} on {url}",
        highlight=False,
    )
    made = ensure_work_pool(pool)
    out().print(
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

    settings = settings_for(ctx, db)
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
                out().print(notify.as_json(w), highlight=False, soft_wrap=True)
            return
        table = Table(title=f"watches on {api_url}", show_edge=False)
        for column in ("name", "kind", "watches", "webhook", "enabled"):
            table.add_column(column, overflow="fold")
        for w in watches:
            table.add_row(w.name, w.kind, w.value, w.webhook, "yes" if w.enabled else "no")
        out().print(table)
        return
    if remove:
        gone = rest.remove_watch(remove)
        out().print(
            f"removed the watch {gone.name!r} ({notify.describe(gone.kind, gone.value)})",
            highlight=False,
        )
        return

    assert webhook is not None
    notify.check_webhook(webhook)
    kind: notify.WatchKind
    if article:
        from newsledger.tasks.ledger import find_article

        value = find_article(settings, article).article_id
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
        out().print(notify.as_json(made), highlight=False, soft_wrap=True)
        return
    out().print(
        f"watch {made.name!r}: each revision of {notify.describe(kind, value)} is POSTed "
        f"to {made.webhook} (automation {made.automation_id})",
        highlight=False,
    )
