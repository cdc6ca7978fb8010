"""Ties between a process and the children it starts (Linux; elsewhere these do nothing)."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``signum`` to this process when its parent dies, so a ``kill -9`` of
    the parent leaves no orphan behind. Safe in a ``preexec_fn`` (no allocation beyond ctypes)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's own stop still ends the child
        return
