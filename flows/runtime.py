"""Where a command runs: in-process (fast path, no Prefect import) or as a Prefect flow run.

``auto`` (the default) runs a Prefect flow when ``PREFECT_API_URL`` (environment or the active
profile in the project's ``PREFECT_HOME``) points at a server that answers ``/health``, so runs
by hand show up in the UI next to scheduled ones; otherwise the same steps run in-process in
well under a second, instead of paying ~2 s for ``import prefect`` and ~15 s to start a
temporary API server. ``prefect`` forces a flow run (on a temporary server if none is running);
``local`` never uses Prefect. Served and deployed runs are always Prefect flow runs.

When a server is configured but does not answer, ``auto`` still runs in-process, and says so
(``Orchestration.note``: the CLI prints it as one line on stderr), since that run will not
appear in the UI.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from newsledger.tasks.settings import Settings


def prepare_prefect_environment(settings: Settings) -> None:
    """Project-local PREFECT_HOME (created, so a temporary server can start), no analytics."""
    home = settings.prefect_home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def configured_prefect_setting(settings: Settings, name: str) -> str | None:
    """A Prefect setting (``PREFECT_API_URL``, ``PREFECT_API_KEY``, …) from the environment,
    else from the active profile of ``PREFECT_HOME``, read without importing Prefect."""
    if os.environ.get(name):
        return os.environ[name]
    home = Path(os.environ.get("PREFECT_HOME") or settings.prefect_home).expanduser()
    profiles = home / "profiles.toml"
    if not profiles.is_file():
        return None
    try:
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active")
    value = data.get("profiles", {}).get(active or "", {}).get(name)
    return str(value) if value else None


def configured_api_url(settings: Settings) -> str | None:
    """PREFECT_API_URL from the environment, else from the active Prefect profile."""
    return configured_prefect_setting(settings, "PREFECT_API_URL")


def api_headers(settings: Settings) -> dict[str, str]:
    """The authorisation header Prefect's own client sends: ``PREFECT_API_KEY`` as a bearer
    token, else ``PREFECT_API_AUTH_STRING`` (a self-hosted server's ``user:password``) as
    basic authentication; none for an open server."""
    import base64

    key = configured_prefect_setting(settings, "PREFECT_API_KEY")
    if key:
        return {"Authorization": f"Bearer {key}"}
    auth = configured_prefect_setting(settings, "PREFECT_API_AUTH_STRING")
    if auth:
        return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
    return {}


def server_is_up(api_url: str, timeout: float = 0.5) -> bool:
    """True if the server at ``api_url`` answers ``GET /health`` with 200. The standard
    library's client, not httpx: ``submit`` and every command in ``auto`` ask this first,
    and importing httpx costs 0.15 s idle, 0.5 s on a busy machine (measured)."""
    import http.client
    import urllib.request

    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, ValueError, http.client.HTTPException):  # URLError, HTTPError, timeouts
        return False


@dataclass(frozen=True)
class Orchestration:
    """How a command runs: ``prefect`` (a flow run) or in-process, and a ``note`` for the user
    when the choice is not what the configuration suggests (a configured server that is down)."""

    prefect: bool
    note: str | None = None


def decide_orchestration(settings: Settings) -> Orchestration:
    """Decide the orchestration of a command (see the module docstring)."""
    if settings.orchestration == "prefect":
        return Orchestration(prefect=True)
    if settings.orchestration == "local":
        return Orchestration(prefect=False)
    url = configured_api_url(settings)
    if not url:
        return Orchestration(prefect=False)
    if server_is_up(url):
        return Orchestration(prefect=True)
    return Orchestration(
        prefect=False,
        note=f"no Prefect server answers at PREFECT_API_URL={url}: running in-process, "
        "this run will not appear in the Prefect UI",
    )
