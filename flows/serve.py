"""The CLI's Prefect commands: ``serve`` (every deployment of ``prefect.yaml`` from one
process), ``submit`` (send ``newsledger.url.submitted`` events) and ``setup-prefect``.

``prefect.yaml`` is the one source of truth: this module reads its deployments (name,
entrypoint, description, tags, parameters, schedules, triggers) and hands them to Prefect's
``serve``, so ``newsledger serve`` and ``prefect deploy --all`` + a worker run the same
deployments on the same schedules and triggers. Entrypoints are repository paths
(``flows/web.py:poll_feeds``); served, they are imported as the installed modules
(``newsledger.flows.web``), so serving works from any directory.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml
from newsledger.tasks.errors import PrefectAPIError, ServeConfigError

if TYPE_CHECKING:
    from newsledger.tasks.events import EventSpec
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment
    from prefect.runner import Runner
    from prefect.schedules import Schedule

CONFIG_NAME = "prefect.yaml"
PACKAGE_FOLDERS = {"flows": "newsledger.flows", "tasks": "newsledger.tasks"}


def find_config(path: Path | None = None) -> Path:
    """The ``prefect.yaml`` given, else the one in the current directory, else the one next to
    the ``flows/`` folder of a checkout."""
    candidates = (
        [path] if path else [Path.cwd() / CONFIG_NAME, Path(__file__).parents[1] / CONFIG_NAME]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ServeConfigError(
        f"no {CONFIG_NAME} found (looked at {', '.join(str(c) for c in candidates)}): "
        "run `newsledger serve` from the repository, or pass --config"
    )


def read_config(path: Path) -> list[dict[str, Any]]:
    """The deployment mappings of a ``prefect.yaml``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ServeConfigError(f"cannot read {path}: {error}") from error
    deployments = data.get("deployments") if isinstance(data, dict) else None
    if not isinstance(deployments, list) or not deployments:
        raise ServeConfigError(f"{path} declares no deployments")
    return deployments


def entrypoint_module(entrypoint: str) -> tuple[str, str]:
    """``flows/web.py:poll_feeds`` → (``newsledger.flows.web``, ``poll_feeds``)."""
    file, _, name = entrypoint.partition(":")
    parts = Path(file).with_suffix("").parts
    if not name or not file.endswith(".py") or not parts or parts[0] not in PACKAGE_FOLDERS:
        raise ServeConfigError(
            f"entrypoint {entrypoint!r} is not of the form flows/<module>.py:<flow function>"
        )
    return ".".join([PACKAGE_FOLDERS[parts[0]], *parts[1:]]), name


def schedule_of(spec: dict[str, Any]) -> Schedule:
    """A ``schedules:`` item of prefect.yaml (cron / interval / rrule) as a Prefect schedule."""
    from prefect.schedules import Schedule
    from pydantic import TypeAdapter

    options = dict(spec)
    options.pop("replaces", None)
    if options.get("interval") is not None:  # seconds, ISO 8601 or HH:MM:SS, as prefect deploy
        options["interval"] = TypeAdapter(timedelta).validate_python(options["interval"])
    if options.get("anchor_date") is not None:
        options["anchor_date"] = TypeAdapter(datetime).validate_python(options["anchor_date"])
    return Schedule(**options)


@dataclass(frozen=True)
class ServedFlow:
    """One deployment of ``prefect.yaml``: its flow and the arguments of ``to_deployment`` /
    ``Runner.add_flow`` (the same names for both)."""

    flow: Flow[..., Any]
    arguments: dict[str, Any]


def served_flows(path: Path) -> list[ServedFlow]:
    """Every deployment of ``path`` as its flow and deployment arguments (schedules, triggers,
    parameters, tags and descriptions as declared; work pools do not apply to serving)."""
    from prefect.events import DeploymentTriggerTypes
    from prefect.types.entrypoint import EntrypointType
    from pydantic import TypeAdapter

    triggers_adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)
    served = []
    for spec in read_config(path):
        name = spec["name"]
        module, function = entrypoint_module(spec.get("entrypoint") or "")
        triggers = [
            triggers_adapter.validate_python({"name": f"{name}__automation_{i}", **trigger})
            for i, trigger in enumerate(spec.get("triggers") or [], start=1)
        ]
        served.append(
            ServedFlow(
                getattr(importlib.import_module(module), function),
                {
                    "name": name,
                    "description": spec.get("description"),
                    "tags": spec.get("tags") or [],
                    "parameters": spec.get("parameters") or {},
                    "schedules": [schedule_of(s) for s in spec.get("schedules") or []],
                    "triggers": triggers,
                    "entrypoint_type": EntrypointType.MODULE_PATH,
                },
            )
        )
    return served


def build_deployments(path: Path) -> list[RunnerDeployment]:
    """Runner deployments for every deployment of ``path`` (what ``serve`` registers)."""
    return [
        cast("RunnerDeployment", s.flow.to_deployment(**s.arguments)) for s in served_flows(path)
    ]


def serve_all(path: Path, *, poll_seconds: float, limit: int) -> int:
    """Serve every deployment of ``path`` until interrupted, looking for runs to start every
    ``poll_seconds`` (Prefect's default of 10 s would add up to 10 s to every triggered run) and
    running at most ``limit`` at once (more wait their turn: each run is a process). Returns the
    exit status of Prefect's runner.

    The runner runs in a child process started with SIGINT ignored, which the flow-run
    processes it starts inherit. Ctrl+C in a terminal signals the whole process group: acted on
    by a flow-run process, it raced the runner's graceful stop, and at some moments Prefect's
    task engine turned it into "Task run is not set" and the run ended FAILED, or the run was
    left RUNNING for ever. Here only this process acts on it: SIGINT and SIGTERM become one
    SIGTERM to the runner, Prefect's graceful stop (in-flight runs cancelled, their processes
    stopped). A ``kill -9`` of this process sends the runner the same SIGTERM."""
    import signal
    import subprocess
    import sys

    from newsledger.tasks.child_processes import die_with_parent

    def runner_setup() -> None:  # in the child, before exec: both survive it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent(signal.SIGTERM)

    command = [sys.executable, "-m", __name__, str(path), f"{poll_seconds:g}", str(limit)]
    runner: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        if runner and runner[0].poll() is None:
            runner[0].send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    runner.append(subprocess.Popen(command, preexec_fn=runner_setup))
    return runner[0].wait()


def run_runner(path: Path, *, poll_seconds: float, limit: int) -> None:
    """Prefect's runner over every deployment of ``path``, in this process (``serve_all``'s
    child): it stops gracefully on SIGTERM.

    The flows are added to the runner as flow objects (``Runner.add_flow``), so it starts each
    flow run as a child process running that flow (Prefect's ``DirectSubprocessStarter``)
    instead of ``python -m prefect.engine`` loading it again from its entrypoint; and those
    children are forked from a warm fork server (:func:`warm_flow_processes`), so a run does
    not first spend 2-4 s importing Prefect and newsledger. Each run is still a process of
    its own."""
    import asyncio
    import contextlib

    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner
    from rich.console import Console

    served = served_flows(path)
    # the flows' modules (Prefect and newsledger with them), and trafilatura, which the
    # extraction of a page imports on first use
    warm_flow_processes([*sorted({s.flow.fn.__module__ for s in served}), "trafilatura"])
    runner = Runner(pause_on_shutdown=True, limit=limit, query_seconds=poll_seconds)
    deployment_ids = [runner.add_flow(flow.flow, **flow.arguments) for flow in served]
    Console().print(
        "[green]Your deployments are being served and polling for scheduled runs![/]\n"
        + "\n".join(f"  {s.flow.name}/{s.arguments['name']}" for s in served),
        soft_wrap=True,
    )
    with contextlib.suppress(KeyboardInterrupt, TerminationSignal):
        asyncio.run(run_woken(runner, [str(i) for i in deployment_ids]))


async def run_woken(runner: Runner, deployment_ids: list[str]) -> None:
    """``runner.start()``, woken by the server's events: each ``prefect.flow-run.Scheduled``
    event of one of ``deployment_ids`` (a trigger, ``prefect deployment run`` or the scheduler
    made a run) makes the runner look for runs to start at once, instead of at its next
    poll. The poll goes on as the fallback (a missed event, a lost websocket).

    Measured on the event path: the poll's wait (half its period on average) was the part of
    the 1-2 s from "run created" to "Pending" that a shorter period cut only by writing the
    server's database more often: each poll of the runner is also a write there
    (``mark_deployments_ready``), and on a SQLite server every extra write is a chance of
    "database is locked" (503), which Prefect's clients, the server's own trigger actions
    included, retry 2 s later. The events come over the websocket Prefect's runner already
    uses to hear of cancellations; the look itself is the runner's own
    (``Runner._get_and_submit_flow_runs``: it skips runs it is already starting, and the
    server refuses a second start of a run)."""
    import anyio

    async with anyio.create_task_group() as group:
        group.start_soon(_wake_on_scheduled_runs, runner, deployment_ids)
        try:
            await runner.start()
        finally:
            group.cancel_scope.cancel()


async def _wake_on_scheduled_runs(runner: Runner, deployment_ids: list[str]) -> None:
    import anyio
    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
    from prefect.logging import get_logger

    logger = get_logger("newsledger.serve")
    wanted = EventFilter(
        event=EventNameFilter(name=["prefect.flow-run.Scheduled"]),
        related=EventRelatedFilter(id=[f"prefect.deployment.{i}" for i in deployment_ids]),
    )
    failures = 0
    while True:
        try:
            async with get_events_subscriber(filter=wanted) as subscriber:
                failures = 0
                async for _ in subscriber:
                    if runner.started and not runner.stopping:
                        await runner._get_and_submit_flow_runs()
        except Exception as error:  # the poll still starts every run: say so, try again
            failures += 1
            log = logger.warning if failures == 1 else logger.debug
            log("not woken by new flow runs (%s): polling only, for now", error)
        await anyio.sleep(min(5 * 2**failures, 300))


def warm_flow_processes(modules: list[str]) -> None:
    """Start flow-run processes from a fork server that has imported ``modules`` (the flows'
    modules, hence Prefect and newsledger) once: each run's process is forked from it, warm,
    in milliseconds instead of a new interpreter importing everything (2-4 s).

    Prefect's ``DirectSubprocessStarter`` starts a run with ``run_flow_in_subprocess``, which
    takes the ``spawn`` start method; this wraps it (the starter's documented override point)
    so that, for that call, the ``forkserver`` one is used. Everything else (the pickled flow
    and flow run, the environment, the control channel, signals) is Prefect's own code. The
    fork server is a child of the runner, started here (not on the first run); it ignores
    SIGINT as the runner does, and so do the runs forked from it."""
    import multiprocessing
    import multiprocessing.forkserver
    from types import SimpleNamespace

    from prefect import flow_engine
    from prefect.runner import _starter_direct

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["prefect.flow_engine", *modules])
    multiprocessing.forkserver.ensure_running()
    prefect_start = flow_engine.run_flow_in_subprocess
    warm = SimpleNamespace(get_context=lambda method: context)

    def run_flow_in_warm_subprocess(*args: Any, **kwargs: Any) -> Any:
        spawning = flow_engine.multiprocessing
        flow_engine.multiprocessing = warm  # type: ignore[assignment]
        try:
            return prefect_start(*args, **kwargs)
        finally:
            flow_engine.multiprocessing = spawning

    _starter_direct.run_flow_in_subprocess = run_flow_in_warm_subprocess


def send_events(
    api_url: str,
    specs: list[EventSpec],
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> list[str]:
    """Send events to the Prefect server at ``api_url`` with one ``POST /events`` of its REST
    API (Prefect's own client would cost ``import prefect``, 2-4 s, and a websocket; the
    standard library's HTTP client, not httpx, saves ``submit`` another 0.15-0.5 s of
    imports); returns their ids once the server has accepted them (its 204). Triggers see
    them as they see events sent any other way."""
    import http.client
    import json
    import urllib.error
    import urllib.request
    import uuid
    from datetime import UTC

    occurred = datetime.now(UTC).isoformat()
    events = [
        {
            "id": str(uuid.uuid4()),
            "occurred": occurred,
            "event": spec.event,
            "resource": spec.resource,
            "payload": spec.payload,
            "related": [dict(r) for r in spec.related],
        }
        for spec in specs
    ]
    request = urllib.request.Request(
        api_url.rstrip("/") + "/events",
        data=json.dumps(events).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:  # a 4xx/5xx answer
        raise PrefectAPIError(
            f"the Prefect server at {api_url} refused the events: {error.code} {error.reason}"
        ) from error
    except (OSError, ValueError, http.client.HTTPException) as error:  # no answer
        raise PrefectAPIError(
            f"the Prefect server at {api_url} refused the events: {error}"
        ) from error
    return [event["id"] for event in events]


def ensure_work_pool(name: str) -> bool:
    """Create the process work pool ``name`` (with Prefect's default job template) unless it
    exists. True if created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    pool = WorkPoolCreate(
        name=name,
        type="process",
        description="newsledger flows (see prefect.yaml)",
        base_job_template=ProcessWorker.get_default_base_job_template(),
    )
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(pool)
        except ObjectAlreadyExists:
            return False
    return True


if __name__ == "__main__":  # serve_all's child: python -m newsledger.flows.serve PATH POLL LIMIT
    import sys

    run_runner(Path(sys.argv[1]), poll_seconds=float(sys.argv[2]), limit=int(sys.argv[3]))
