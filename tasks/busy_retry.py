"""An httpx transport for a busy Prefect server: a ``503`` is asked again after a short pause.

Used by the write slot's Prefect client (tasks/prefect_tasks.py) and by the REST client of
``newsledger watch`` (tasks/notify.py, which must not import Prefect)."""

from __future__ import annotations

import random
import time

import httpx


class BusyRetryTransport(httpx.BaseTransport):
    """An httpx transport that sends a request again, after a short jittered pause (50 ms,
    doubling up to ``max_delay``), while the server answers ``503``, and hands on the last
    answer after ``attempts``.

    A Prefect server on SQLite answers 503 when a write transaction meets another one
    ("database is locked"), which the slot's increment does whenever a flow run's states,
    events or logs are being written at that moment (measured: one slot request in four
    during a served run). Prefect's client retries a 503 after 2 s, then 4 s: on the event
    path each such answer cost 2 s of a 3 s budget, where the next try 50 ms later succeeds.
    Anything the server still refuses after this reaches Prefect's own retry unchanged."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        attempts: int = 8,
        first_delay: float = 0.05,
        max_delay: float = 0.4,
    ) -> None:
        self._transport = transport
        self._attempts = attempts
        self._first_delay = first_delay
        self._max_delay = max_delay

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        delay = self._first_delay
        for _ in range(self._attempts - 1):
            response = self._transport.handle_request(request)
            if response.status_code != 503:
                return response
            response.read()
            response.close()
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, self._max_delay)
        return self._transport.handle_request(request)

    def close(self) -> None:
        self._transport.close()
