"""Process helpers shared by the tests and the benchmarks: what is still alive in a session."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class ProcEntry:
    """One live process as /proc shows it."""

    pid: int
    ppid: int
    session: int
    cmdline: bytes
    rss_pages: int


def proc_entries() -> Iterator[ProcEntry]:
    """Every process /proc lists (those that end while being read are left out)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
            rss_pages = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        # stat after the command: state, ppid, pgrp, session
        yield ProcEntry(int(entry.name), int(fields[1]), int(fields[3]), cmdline, rss_pages)


def has_open(pid: int, path: Path) -> bool:
    """True while process ``pid`` holds a descriptor on ``path`` (from /proc/PID/fd)."""
    target = str(path.resolve())
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) == target:
                return True
        except OSError:
            continue
    return False


def session_processes(session_id: int) -> list[str]:
    """``pid command`` of every live (non-zombie) process of a session, from ps."""
    out = subprocess.run(
        ["ps", "-ww", "-e", "-o", "pid=,sid=,stat=,args="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split(None, 3) for line in out.splitlines() if line.strip()]
    return [
        f"{r[0]} {r[3] if len(r) > 3 else ''}"
        for r in rows
        if int(r[1]) == session_id and not r[2].startswith("Z")
    ]


def flow_run_processes(session_id: int) -> list[str]:
    """``pid command`` (as :func:`session_processes` gives them) of the flow-run processes of a
    ``newsledger serve`` session: the children of its fork server (serve forks every flow run
    from a warm fork server, see flows/serve.py)."""
    out = subprocess.run(
        ["ps", "-ww", "-e", "-o", "pid=,ppid=,sid=,stat=,args="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split(None, 4) for line in out.splitlines() if line.strip()]
    rows = [r for r in rows if int(r[2]) == session_id and not r[3].startswith("Z")]
    servers = {r[0] for r in rows if len(r) > 4 and "multiprocessing.forkserver" in r[4]}
    return [f"{r[0]} {r[4] if len(r) > 4 else ''}" for r in rows if r[1] in servers]


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
