"""Process helpers shared by the tests and the benchmarks: what is still alive in a session."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
from typing import IO


def session_processes(session_id: int) -> list[str]:
    """``pid command`` of every live (non-zombie) process of a session, from ps."""
    out = subprocess.run(
        ["ps", "-e", "-o", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split(None, 3) for line in out.splitlines() if line.strip()]
    return [
        f"{r[0]} {r[3] if len(r) > 3 else ''}"
        for r in rows
        if int(r[1]) == session_id and not r[2].startswith("Z")
    ]


# A child that holds the ledger's write slot (``ledger_write``), says "holding", sleeps
# argv[1] seconds, lets go and says "wrote".
SLOT_WRITER = """
import sys, time
from newsledger.tasks.prefect_tasks import ledger_write
from newsledger.tasks.settings import Settings
with ledger_write(Settings()):
    print("holding", flush=True)
    time.sleep(float(sys.argv[1]))
print("wrote", flush=True)
"""


def run_guarded(
    argv: list[str],
    *,
    env: dict[str, str],
    memory_bytes: int,
    timeout: float,
    stdout: IO[bytes] | int = subprocess.DEVNULL,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
) -> tuple[int, float]:
    """Run ``argv`` under an address-space cap of ``memory_bytes``, killed after ``timeout`` s;
    its exit status (-9 when killed) and its peak resident memory in MiB (wait4's rusage of
    that one child)."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    child = subprocess.Popen(argv, stdout=stdout, stderr=stderr, preexec_fn=cap, env=env)
    killer = threading.Timer(timeout, child.kill)
    killer.start()
    try:
        _pid, status, usage = os.wait4(child.pid, 0)
    finally:
        killer.cancel()
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024
