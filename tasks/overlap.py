"""The overlapped web pipeline (issue 10): fetching, extraction and the batch writes at once.

Three stages, each in its own thread, joined by bounded hand-offs (one batch waits between two
stages at most), so memory stays flat however many pages a run has:

1. **fetch** (a thread running one event loop and one ``Fetcher`` for the whole run): every
   page is fetched as soon as the politeness limits let it; finished pages (or their
   failures) gather in a batch that closes when it holds ``batch_size`` pages **or** when its
   first page has waited ``batch_max_age_seconds``, so a page is written soon after it is
   fetched, whatever a slow host is still doing (once the extraction stage is free to take
   it: while that stage is busy the batch fills up instead, since it would only wait). At
   most ``2 × batch_size`` pages are being fetched or waiting for the extraction stage at
   once (:func:`stream_fetches`);
2. **extract** (a helper thread; the work itself runs in the run's extraction pool,
   ``tasks/extraction_pool.py``): batch N+1 is extracted …
3. **write** (the caller's thread): … while batch N is written, in one short transaction, by
   the same store step as before, and batch N+2 is being fetched.

:func:`run_stages` is the generic three-stage runner; ``tasks/web.py`` composes it with its
steps (plain functions, or Prefect tasks: each helper thread runs in a copy of the caller's
context, so a task called there is a task run of the same flow run). The write path is
untouched: events still follow their commit, a retried write is still idempotent, and a page
fetched but not yet written when the run is killed is still a tracked URL the next run fetches.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from newsledger.tasks.errors import ExtractionPoolClosed, FetchError
from newsledger.tasks.extraction_pool import SMALL_INPUT_BYTES, active_pool
from newsledger.tasks.fetch import FetchedPage, Fetcher, FetchRequest, RobotsCache, RobotsRecord
from newsledger.tasks.settings import Settings

log = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")
T = TypeVar("T")

STOP_POLL_SECONDS = 0.1
JOIN_SECONDS = 10.0
"""How long a stopped run waits for its helper threads (an extraction in progress in-process
cannot be interrupted; one in the pool is stopped at once by closing the pool)."""


class _Stopped(Exception):
    """The run is stopping (a stage failed, Ctrl+C, SIGTERM): the stage that sees it ends."""


class Handoff(Generic[T]):
    """A bounded hand-off between two stage threads (``capacity`` items wait at most) that a
    stop ends at once, on both sides."""

    def __init__(self, stopped: threading.Event, capacity: int = 1) -> None:
        self.stopped = stopped
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=capacity)
        self._waiting = threading.Event()  # the next stage waits for an item

    def idle(self) -> bool:
        """True while the next stage waits for an item and none is queued: an item handed on
        now is taken at once (the fetch stage closes a batch on age only then)."""
        return self._waiting.is_set() and self._queue.empty()

    def put(self, item: T) -> None:
        """Hand ``item`` on, waiting while the next stage is busy; raise _Stopped on a stop."""
        self._put(("item", item))

    def finish(self, error: BaseException | None = None) -> None:
        """No more items (``error``: because this stage failed)."""
        with contextlib.suppress(_Stopped):
            self._put(("error", error) if error is not None else ("end", None))

    def _put(self, message: tuple[str, object]) -> None:
        while not self.stopped.is_set():
            try:
                self._queue.put(message, timeout=STOP_POLL_SECONDS)
                return
            except queue.Full:
                continue
        raise _Stopped

    def get(self) -> tuple[bool, T | None]:
        """``(True, item)``, or ``(False, None)`` at the end; a failure of the stage before is
        raised here, and _Stopped on a stop."""
        while not self.stopped.is_set():
            self._waiting.set()
            try:
                kind, value = self._queue.get(timeout=STOP_POLL_SECONDS)
            except queue.Empty:
                continue
            finally:
                self._waiting.clear()
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            if kind == "end":
                return False, None
            return True, value  # type: ignore[return-value]
        raise _Stopped


def _thread(name: str, target: Callable[[], None]) -> threading.Thread:
    context = contextvars.copy_context()  # Prefect's flow run, the extraction pool
    thread = threading.Thread(target=context.run, args=(target,), name=name, daemon=True)
    thread.start()
    return thread


def run_stages(
    produce: Callable[[Handoff[A]], None],
    transform: Callable[[A], B],
    consume: Callable[[B], None],
    *,
    on_stop: Callable[[], None] = lambda: None,
) -> None:
    """Run ``produce`` (in a thread, handing items on), ``transform`` (in a second thread, one
    item after the other) and ``consume`` (here), all three at once, with one item waiting
    between two stages at most. The first failure of any stage (or an exception here, such as
    KeyboardInterrupt) stops the other two, calls ``on_stop`` (e.g. closing the extraction
    pool, so a batch being extracted ends at once) and is raised here."""
    stopped = threading.Event()
    produced: Handoff[A] = Handoff(stopped)
    transformed: Handoff[B] = Handoff(stopped)

    def producer() -> None:
        try:
            produce(produced)
        except _Stopped:
            return
        except BaseException as error:
            produced.finish(error)
        else:
            produced.finish()

    def transformer() -> None:
        try:
            while True:
                more, item = produced.get()
                if not more:
                    break
                transformed.put(transform(item))  # type: ignore[arg-type]
        except _Stopped:
            return
        except BaseException as error:
            transformed.finish(error)
        else:
            transformed.finish()

    threads = [_thread("newsledger-fetch", producer), _thread("newsledger-extract", transformer)]
    try:
        while True:
            more, result = transformed.get()
            if not more:
                break
            consume(result)  # type: ignore[arg-type]
    except BaseException:
        stopped.set()
        on_stop()
        raise
    finally:
        stopped.set()
        for thread in threads:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", thread.name, JOIN_SECONDS)


# --- the fetch stage ----------------------------------------------------------------------------


@dataclass
class FetchedPart:
    """A closed batch of the fetch stage: positions in the request list and their results."""

    positions: list[int]
    results: list[FetchedPage | FetchError]
    robots: list[RobotsRecord] = field(default_factory=list)
    """robots.txt records fetched since the previous batch (stored with this one)."""


def stream_fetches(
    settings: Settings,
    requests: Sequence[FetchRequest],
    on_batch: Callable[[FetchedPart], None],
    *,
    stopped: threading.Event,
    ready: Callable[[], bool] = lambda: True,
    robots: RobotsCache | None = None,
    recent_requests: dict[str, datetime] | None = None,
) -> None:
    """Fetch every request with one Fetcher, calling ``on_batch`` (a blocking call, made from a
    helper thread so fetching goes on meanwhile) with each batch as it closes: on
    ``batch_size`` results, or ``batch_max_age_seconds`` after its first once ``ready()``
    says the next stage would take it at once (while that stage is busy, a batch handed on
    early would only wait, and many small batches cost a write each: it fills up instead).
    Returns when every request has been handed on; ``stopped`` ends it early (_Stopped)."""
    try:
        asyncio.run(
            _stream(
                settings,
                requests,
                on_batch,
                stopped,
                ready,
                robots or RobotsCache(),
                recent_requests,
            )
        )
    except BaseExceptionGroup as group:  # the task group's: a stop, or the error that ended it
        errors = group.subgroup(lambda error: not isinstance(error, _Stopped))
        if errors is None:
            raise _Stopped from None
        leaves = _leaves(errors)
        if len(leaves) == 1:
            raise leaves[0] from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        found.extend(_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    return found


async def _stream(
    settings: Settings,
    requests: Sequence[FetchRequest],
    on_batch: Callable[[FetchedPart], None],
    stopped: threading.Event,
    ready: Callable[[], bool],
    robots: RobotsCache,
    recent_requests: dict[str, datetime] | None,
) -> None:
    if not requests:
        return
    loop = asyncio.get_running_loop()
    size, max_age = settings.batch_size, settings.batch_max_age_seconds
    done: asyncio.Queue[tuple[int, FetchedPage | FetchError]] = asyncio.Queue()
    # pages being fetched or fetched and not yet handed on: what the stage holds in memory
    window = asyncio.Semaphore(2 * size)
    handed_robots: set[str] = set()
    # Once the run has fetched more than it would extract in-process, its extraction workers
    # are started (spawned, loading the extractor) while fetching goes on, instead of when the
    # first batch that needs them reaches the extraction stage and waits for them.
    pool = active_pool()
    fetched_bytes = 0

    def warm_up_pool(result: FetchedPage | FetchError) -> None:
        nonlocal fetched_bytes, pool
        if pool is None or not isinstance(result, FetchedPage):
            return
        fetched_bytes += len(result.body)
        if fetched_bytes > SMALL_INPUT_BYTES:
            if not pool.running and pool.limits.workers > 0:
                with contextlib.suppress(ExtractionPoolClosed):  # the run is stopping
                    pool.start()
            pool = None  # once

    async with Fetcher(settings, robots=robots, recent_requests=recent_requests) as fetcher:

        async def fetch(position: int, request: FetchRequest) -> None:
            await window.acquire()
            await done.put((position, await fetcher.fetch_request(request)))

        async def hand(batch: list[tuple[int, FetchedPage | FetchError]]) -> None:
            fresh = [r for o, r in fetcher.robots_cache.fetched.items() if o not in handed_robots]
            handed_robots.update(r.origin for r in fresh)
            part = FetchedPart([p for p, _ in batch], [r for _, r in batch], fresh)
            await asyncio.to_thread(on_batch, part)
            for _ in batch:
                window.release()

        async def batches() -> None:
            batch: list[tuple[int, FetchedPage | FetchError]] = []
            opened = 0.0
            remaining = len(requests)
            while remaining:
                wait = None
                if batch:  # past its age: look again shortly, in case the next stage is free
                    wait = max(STOP_POLL_SECONDS / 2, opened + max_age - loop.time())
                try:
                    item = await asyncio.wait_for(done.get(), wait)
                except TimeoutError:
                    item = None
                if item is not None:
                    if not batch:
                        opened = loop.time()
                    batch.append(item)
                    remaining -= 1
                    warm_up_pool(item[1])
                aged = bool(batch) and loop.time() - opened >= max_age and ready()
                if batch and (aged or len(batch) >= size or not remaining):
                    await hand(batch)
                    batch = []

        async def watch() -> None:
            while not stopped.is_set():
                await asyncio.sleep(STOP_POLL_SECONDS)
            raise _Stopped

        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(watch())
            fetches = [group.create_task(fetch(i, r)) for i, r in enumerate(requests)]
            try:
                await batches()
            except BaseException:
                for task in fetches:
                    task.cancel()
                raise
            watcher.cancel()


__all__ = ["FetchedPart", "Handoff", "_Stopped", "run_stages", "stream_fetches"]
