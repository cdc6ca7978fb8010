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
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from newsledger.tasks.errors import NewsledgerError

if TYPE_CHECKING:
    from newsledger.tasks.events import EventSpec
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule

CONFIG_NAME = "prefect.yaml"
PACKAGE_FOLDERS = {"flows": "newsledger.flows", "tasks": "newsledger.tasks"}


class ServeConfigError(NewsledgerError):
    """prefect.yaml is missing or declares something newsledger cannot serve."""


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


def build_deployments(path: Path) -> list[RunnerDeployment]:
    """Runner deployments for every deployment of ``prefect.yaml`` (schedules, triggers,
    parameters, tags and descriptions as declared; work pools do not apply to serving)."""
    from prefect.events import DeploymentTriggerTypes
    from prefect.types.entrypoint import EntrypointType
    from pydantic import TypeAdapter

    triggers_adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)
    deployments = []
    for spec in read_config(path):
        name = spec["name"]
        module, function = entrypoint_module(spec.get("entrypoint") or "")
        flow = getattr(importlib.import_module(module), function)
        triggers = [
            triggers_adapter.validate_python({"name": f"{name}__automation_{i}", **trigger})
            for i, trigger in enumerate(spec.get("triggers") or [], start=1)
        ]
        deployments.append(
            flow.to_deployment(
                name=name,
                description=spec.get("description"),
                tags=spec.get("tags") or [],
                parameters=spec.get("parameters") or {},
                schedules=[schedule_of(s) for s in spec.get("schedules") or []],
                triggers=triggers,
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return deployments


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
    child): it stops gracefully on SIGTERM."""
    from prefect import serve

    serve(*build_deployments(path), query_seconds=poll_seconds, limit=limit)


def send_events(specs: list[EventSpec]) -> list[str]:
    """Send events to the configured Prefect server and wait until they are handed over;
    returns their ids."""
    import asyncio

    from prefect.events import Event
    from prefect.events.clients import get_events_client

    events = [Event(event=s.event, resource=s.resource, payload=s.payload) for s in specs]

    async def send() -> None:
        async with get_events_client() as client:
            for event in events:
                await client.emit(event)

    asyncio.run(send())
    return [str(event.id) for event in events]


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
