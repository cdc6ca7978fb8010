"""One real `prefect server start` on loopback for the whole test session (the flow tests and
the orchestration tests share it: each start costs ~20 s), and the helpers around it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

PREFECT_BIN = Path(sys.executable).with_name("prefect")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without newsledger/Prefect configuration, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    return env


def wait_for(
    probe: Callable[[], T | None], what: str, *, deadline: float = 120.0, log: Path | None = None
) -> T:
    """Poll ``probe`` until it returns something truthy; fail (with the log) past a deadline."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            tail = log.read_text(errors="replace")[-6000:] if log and log.exists() else ""
            pytest.fail(f"gave up waiting for {what}\n--- {log} ---\n{tail}")
        time.sleep(0.25)


@dataclass
class Server:
    api_url: str
    home: Path
    log: Path


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on a free port of 127.0.0.1, its SQLite database in a tmp
    PREFECT_HOME (the database's folder must exist, or startup times out)."""
    home = tmp_path_factory.mktemp("prefect-server")
    (home / "db").mkdir()
    port = free_port()
    log = home / "server.log"
    env = clean_env(
        PREFECT_HOME=str(home),
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'db' / 'prefect.db'}",
        PREFECT_UI_ENABLED="false",
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PREFECT_BIN), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}/api", home, log)

    def healthy() -> bool:
        if process.poll() is not None:
            pytest.fail(f"prefect server exited:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            return httpx.get(server.api_url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, "the Prefect server to answer /api/health", log=log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def client(server: Server) -> Iterator[Any]:
    """A sync Prefect client bound to the test server (only inside this block)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: server.api_url}),
        get_client(sync_client=True) as prefect_client,
    ):
        yield prefect_client
