"""What the benchmarks that need a Prefect server share: a free loopback port, waiting for a
condition, and a throwaway ``prefect server start`` (SQLite in a temporary PREFECT_HOME)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(probe: Callable[[], Any], what: str, deadline: float = 120.0, step: float = 0.1) -> Any:
    """``probe()``'s first true value, asked every ``step`` seconds; gives up after
    ``deadline`` seconds (the benchmark stops, saying what it waited for)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = probe()
        if value:
            return value
        time.sleep(step)
    raise SystemExit(f"gave up waiting for {what}")


def start_prefect_server(
    work: Path, base_env: Mapping[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """``prefect server start`` on a free port, in its own session, with its home and SQLite
    database under ``work/server`` and its output in ``work/server.log``; returns the process
    and its API URL once ``/health`` answers."""
    home = work / "server"
    (home / "db").mkdir(parents=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **base_env,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'db' / 'prefect.db'}",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("prefect")),
            *("server", "start", "--host", "127.0.0.1", "--port", str(port)),
        ],
        env=env,
        stdout=(work / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        try:
            return httpx.get(api_url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait(healthy, "the Prefect server", step=0.25)
    return process, api_url
