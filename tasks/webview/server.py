"""Serving the web view with uvicorn: ``newsledger web``."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable

import uvicorn
from newsledger.tasks.errors import StoreError
from newsledger.tasks.settings import Settings
from newsledger.tasks.webview.app import create_app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the web view of ``settings.db`` until interrupted; ``announce`` gets the address
    once the socket listens (default: printed to stdout)."""
    if not settings.db.exists():
        raise StoreError(
            f"no ledger at {settings.db}: run `newsledger ingest PATH` first "
            "(or point --db / NEWSLEDGER_DB at an existing ledger)"
        )
    sock = bind(host, port)
    config = uvicorn.Config(
        create_app(settings), log_level="warning", access_log=False, server_header=False
    )
    message = f"newsledger web: {settings.db} at {address(sock)} (read-only; Ctrl+C to stop)"
    (announce or (lambda text: print(text, flush=True, file=sys.stdout)))(message)
    uvicorn.Server(config).run(sockets=[sock])


__all__ = ["address", "bind", "serve"]
