"""Process helpers shared by the tests and the benchmarks: what is still alive in a session."""

from __future__ import annotations

import subprocess


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
