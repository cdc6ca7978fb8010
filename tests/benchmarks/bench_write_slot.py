"""How long a writer killed with ``kill -9`` while holding the ledger's write slot blocks the
next writer. Not collected by pytest. Run it from the repository root:

    .venv/bin/python tests/benchmarks/bench_write_slot.py

Starts `prefect server start` on a free port of 127.0.0.1 (SQLite in a temporary
PREFECT_HOME), starts a writer that takes the write slot (``ledger_write``, the project's
default lease) and sleeps, kills it with SIGKILL, then times a second writer from the kill to
the moment it holds the slot. Prints that figure. Everything it started is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from processes import SLOT_WRITER  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="newsledger-bench-slot-"))
    (work / "server" / "db").mkdir(parents=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT / "tests" / "shim"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_HOME=str(work / "server"),
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{work / 'server/db/p.db'}",
        PREFECT_UI_ENABLED="false",
    )
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "server", "start", "--port", str(port)],
        env=env,
        stdout=(work / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client_env = {**env, "PREFECT_API_URL": api_url, "NEWSLEDGER_DB": str(work / "l.duckdb")}
    client_env["PREFECT_HOME"] = str(work / "client")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(api_url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the Prefect server did not start")
            time.sleep(0.2)
        holder = subprocess.Popen(
            [sys.executable, "-c", SLOT_WRITER, "600"],
            env=client_env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        killed = time.perf_counter()
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        second = subprocess.Popen(
            [sys.executable, "-c", SLOT_WRITER, "0"],
            env=client_env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert second.stdout is not None and second.stdout.readline().strip() == "holding"
        waited = time.perf_counter() - killed
        second.wait()
        print(f"kill -9 of the slot holder → next writer holds the slot: {waited:.1f} s")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
