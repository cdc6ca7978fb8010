"""A supervised pool of extraction worker processes (clean + metadata, issue 10).

Extraction is the whole CPU cost of an ingest, and one hostile page (a 20 MB page, a million
nested elements) can hold trafilatura and lxml for minutes and gigabytes, or crash them. So
pages are extracted in worker processes, each page under a hard wall-time limit and each
worker under a memory cap:

* a page over the time limit: its worker is killed (SIGKILL) and replaced, and the page is the
  recorded failure ``extraction_timeout``;
* a worker whose resident memory passes the cap (checked every 50 ms while it works): killed
  and replaced, the page is ``extraction_memory``. An address-space limit (``RLIMIT_AS``, the
  loaded worker's size + twice the cap) is the backstop for a sudden huge allocation: it fails
  in the worker (``MemoryError``: ``extraction_memory`` too, and the worker is replaced). The
  cap is on resident memory because lxml reports a failed allocation as an arbitrary error
  ("XPathEvalError: unknown error"), which could not be told from a real one;
* a worker that dies mid-page (a crash in lxml, a signal): ``extractor_crash``, replaced.

The rest of the batch goes on in the other workers. Pages travel to a worker as the
:class:`SourceDocument` (bytes and all) and come back as ``(ArticleContent, extractor
version)`` or a :class:`FailedInput`, the small typed values of ``tasks/models.py``; the
worker runs exactly :func:`pipeline.extract_document`, so a page gives the same revision in a
worker as in-process.

Why the standard library and not a pool library: ``concurrent.futures.ProcessPoolExecutor``
has no per-task time limit and breaks the whole pool when one worker dies; ``pebble`` has both
but would be a new dependency and does not tell a memory failure from a crash. The supervisor
here is one loop over ``multiprocessing.connection.wait``.

Workers are started with the ``spawn`` context (a fresh interpreter: never ``fork`` after
Prefect and httpx have started threads), once per run and lazily, on the first batch that needs
them (see :func:`wants_pool`): a one-file ingest never starts one. Each worker asks the kernel
to kill it when its parent dies (``PR_SET_PDEATHSIG``), so even a ``kill -9`` of the run leaves
no worker behind; a normal end, Ctrl+C and SIGTERM stop them in :meth:`ExtractionPool.close`.

A run opens an :func:`extraction_session` (``pipeline.run_recorded`` does, for the CLI's fast
path and for Prefect flow runs alike); ``pipeline.prepare_documents`` extracts through the
session's pool. Outside a session everything runs in-process, as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, TypeAlias

from newsledger.tasks.child_processes import die_with_parent
from newsledger.tasks.errors import ExtractionPoolClosed, ExtractorStartError
from newsledger.tasks.models import ArticleContent, ExtractedArticle, FailedInput, SourceDocument
from newsledger.tasks.settings import Settings

logger = logging.getLogger(__name__)

Extracted: TypeAlias = ExtractedArticle | FailedInput

# While no worker runs yet, a run that has extracted fewer bytes than this so far (the batch at
# hand included) extracts in-process: about 40 ordinary news pages, ~1.5 s of extraction,
# about what starting the workers costs (a text file costs far less per byte). Counted over
# the run, not per batch: a web run closes small batches (on age) and would otherwise never
# start its workers. A page bigger than SMALL_PAGE_BYTES always goes to the pool, where the
# limits hold: that is where the hostile ones are.
SMALL_INPUT_BYTES = 2 * 1024 * 1024
SMALL_PAGE_BYTES = 512 * 1024
START_METHOD = "spawn"
STOP_GRACE_SECONDS = 2.0


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class PoolLimits:
    """How many workers, and the limits every page and worker runs under."""

    workers: int
    timeout_seconds: float
    memory_bytes: int  # resident memory a worker may use; 0: no cap
    max_elements: int = Settings.model_fields["extract_max_elements"].default  # 0: no limit

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolLimits:
        workers = settings.extract_workers
        return cls(
            workers=usable_cpus() if workers is None else workers,
            timeout_seconds=settings.extract_timeout_seconds,
            memory_bytes=settings.extract_memory_mb * 1024 * 1024,
            max_elements=settings.extract_max_elements,
        )


# --- the worker ----------------------------------------------------------------------------------


# A small page without ``lang``: extracting it once loads everything an extraction needs
# (trafilatura's and htmldate's lazy state, the language model) before the cap is set.
WARM_UP_PAGE = (
    b"<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1><p>"
    + b"The harbour reopened on Thursday after a week of repairs to the northern quay. " * 4
    + b"</p></article></body></html>"
)
PAGE_HEADROOM_BYTES = 64 * 1024 * 1024  # the least a cap must leave above a loaded worker
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
BACKSTOP_FACTOR = 2  # RLIMIT_AS of a worker: its loaded size + this × the resident cap
MEMORY_POLL_SECONDS = 0.05  # how often the resident size of busy workers is checked
MEMORY = "memory"  # the worker's reply when a message itself did not fit under the cap


def memory_of(pid: int | str = "self") -> tuple[int, int]:
    """(virtual size, resident size) of a process in bytes, from /proc; (0, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            size, resident = statm.read().split()[:2]
    except (OSError, ValueError):
        return 0, 0
    return int(size) * PAGE_SIZE, int(resident) * PAGE_SIZE


def worker_main(
    conn: Connection, parent_pid: int, memory_bytes: int, max_elements: int = 0
) -> None:
    """Extract the documents that arrive on ``conn`` one by one, until ``None`` or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(signal.SIGKILL)  # close() and the pipe's EOF stop it elsewhere
    if parent_pid and os.getppid() != parent_pid:  # the parent died before that took effect
        return
    # numpy (the language model) would otherwise start a BLAS thread per CPU, each with its own
    # stack and malloc arena: hundreds of MB of address space that the cap would count.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    from newsledger.tasks.pipeline import extract_document  # trafilatura & co load here

    raw = WARM_UP_PAGE
    extract_document(SourceDocument("warm-up", "warm-up", "html", raw, ""), "fast")
    if memory_bytes:
        virtual, resident = memory_of()
        if memory_bytes < resident + PAGE_HEADROOM_BYTES:
            conn.send(("cap_too_small", resident))
            return
        # The parent watches the resident size; this address-space limit is the backstop for
        # what it cannot see in time (a sudden huge allocation): allocations past it fail.
        backstop = virtual + BACKSTOP_FACTOR * memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (backstop, backstop))
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        except MemoryError:  # the page itself does not fit under the cap
            conn.send(MEMORY)
            return
        if message is None:
            return
        document, mode = message
        result = extract_document(document, mode, max_elements)
        del message, document
        try:
            if isinstance(result, ExtractedArticle):
                conn.send((result.content, result.extractor_version))  # not the bytes back
            else:
                conn.send(result)
        except MemoryError:
            conn.send(MEMORY)
            return
        if isinstance(result, FailedInput) and result.error == "extraction_memory":
            return  # a heap that ran out is not trusted with the next page


# --- the supervisor -------------------------------------------------------------------------------


@dataclass
class _Job:
    index: int
    deadline: float


class _Worker:
    def __init__(self, context: Any, limits: PoolLimits) -> None:
        self.conn, child = context.Pipe(duplex=True)
        parent = os.getpid() if START_METHOD == "spawn" else 0
        self.process: BaseProcess = context.Process(
            target=worker_main,
            # spawn: the worker is this process's child, and checks that it still is
            args=(child, parent, limits.memory_bytes, limits.max_elements),
            name="newsledger-extract",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False
        self.job: _Job | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_GRACE_SECONDS)
        self.conn.close()

    def stop(self) -> None:
        """Ask an idle worker to finish; kill it if it does not within the grace time."""
        try:
            if self.process.is_alive() and self.job is None:
                self.conn.send(None)
                self.process.join(STOP_GRACE_SECONDS)
        except OSError:
            pass
        self.kill()


def _failure(document: SourceDocument, code: str, message: str) -> FailedInput:
    return FailedInput(
        document.source,
        "clean",
        code,
        f"{document.source}: {message}",
        document.identity,
        document.raw_hash,
    )


MEMORY_MESSAGE = (
    "extraction ran out of memory (the cap is NEWSLEDGER_EXTRACT_MEMORY_MB per worker); stopped"
)


def _death(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class ExtractionPool:
    """Worker processes that extract pages under a time limit and a memory cap.

    Started on the first :meth:`extract` call that needs it (:func:`wants_pool`), stopped by
    :meth:`close` (also a context manager), for good. One :meth:`extract` runs at a time;
    :meth:`close` may come from another thread (a run stopping while its next batch is being
    extracted): the extraction then raises :class:`ExtractionPoolClosed` at once."""

    def __init__(self, limits: PoolLimits) -> None:
        self.limits = limits
        self._context = multiprocessing.get_context(START_METHOD)
        self._workers: list[_Worker] = []
        self._closed = False
        self._mutex = threading.Lock()  # guards _workers and _closed
        self._one_at_a_time = threading.Lock()
        self._began = time.monotonic()
        self.started = 0  # workers started so far, replacements included
        self.startup_seconds: float | None = None  # start → first worker ready
        self.in_process_bytes = 0  # extracted in-process by this run so far (wants_pool)

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return bool(self._workers)

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._workers if w.pid is not None]

    def _start_worker(self) -> _Worker:
        if self._closed:
            raise ExtractionPoolClosed("the extraction pool was stopped")
        worker = _Worker(self._context, self.limits)
        self.started += 1
        return worker

    def start(self) -> None:
        with self._mutex:
            if not self._workers:
                self._began = time.monotonic()
                count = max(1, self.limits.workers)
                self._workers = [self._start_worker() for _ in range(count)]

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        with self._mutex:
            fresh = self._start_worker()
            self._workers[self._workers.index(worker)] = fresh
        return fresh

    def close(self) -> None:
        """Stop every worker (idle ones are asked, busy ones killed) and reap them."""
        with self._mutex:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            if worker.job is not None:
                worker.kill()
        for worker in workers:
            worker.stop()

    def extract(self, documents: Sequence[SourceDocument], mode: str) -> list[Extracted]:
        """Extract ``documents`` in the workers; the results in the same order. A page over a
        limit, or whose worker died, is a :class:`FailedInput`; the others are unaffected."""
        if not documents:
            return []
        with self._one_at_a_time:
            self.start()
            results: list[Extracted | None] = [None] * len(documents)
            queue = deque(range(len(documents)))
            timeout = self.limits.timeout_seconds
            try:
                while queue or any(w.job is not None for w in self._workers):
                    if self._closed:
                        raise ExtractionPoolClosed("the extraction pool was stopped")
                    for worker in list(self._workers):
                        if worker.job is None and worker.ready and queue:
                            self._send(worker, queue, documents, mode, timeout)
                    self._collect(documents, results, queue)
            except BaseException:
                self.close()  # Ctrl+C, SIGTERM, a bug: no worker outlives the run
                raise
        return [item for item in results if item is not None]

    def _send(
        self,
        worker: _Worker,
        queue: deque[int],
        documents: Sequence[SourceDocument],
        mode: str,
        timeout: float,
    ) -> None:
        index = queue.popleft()
        try:
            worker.conn.send((documents[index], mode))
        except OSError:  # died while idle: the page was never started, give it to another
            queue.appendleft(index)
            self._replace(worker)
            return
        # The clock starts when the page is handed over: a worker reads it at once.
        worker.job = _Job(index, time.monotonic() + timeout)

    def _collect(
        self,
        documents: Sequence[SourceDocument],
        results: list[Extracted | None],
        queue: deque[int],
    ) -> None:
        """Wait for a reply, a death or the nearest deadline, and deal with what happened."""
        busy = [w for w in self._workers if w.job is not None]
        waiting = [w for w in self._workers if not w.ready]
        deadlines = [w.job.deadline for w in busy if w.job is not None]
        now = time.monotonic()
        wait_for = max(0.0, min(deadlines) - now) if deadlines else None
        if busy and self.limits.memory_bytes:
            wait_for = (
                MEMORY_POLL_SECONDS if wait_for is None else min(wait_for, MEMORY_POLL_SECONDS)
            )
        handles: list[Any] = []
        for worker in busy + waiting:
            handles += [worker.conn, worker.process.sentinel]
        if not handles:  # closed from another thread meanwhile
            return
        ready = set(wait(handles, wait_for))
        now = time.monotonic()
        for worker in list(self._workers):
            job = worker.job
            if not worker.ready:
                self._check_ready(worker, ready)
                continue
            if job is None:
                continue
            document = documents[job.index]
            if worker.conn in ready:
                try:
                    reply = worker.conn.recv()
                except (EOFError, OSError):
                    reply = None
                if reply is None:
                    worker.process.join(STOP_GRACE_SECONDS)
                    results[job.index] = self._crashed(worker, document)
                    continue
                worker.job = None
                results[job.index] = _result(document, reply)
                if reply == MEMORY or (
                    isinstance(reply, FailedInput) and reply.error == "extraction_memory"
                ):
                    self._replace(worker)
            elif worker.process.sentinel in ready:
                worker.process.join(STOP_GRACE_SECONDS)
                results[job.index] = self._crashed(worker, document)
            elif self._over_memory(worker):
                limit = self.limits.memory_bytes // 2**20
                logger.warning(
                    "%s: extraction passed %s MiB; worker %s killed and replaced",
                    document.source,
                    limit,
                    worker.pid,
                )
                results[job.index] = _failure(
                    document,
                    "extraction_memory",
                    f"extraction used more than {limit} MiB "
                    "(NEWSLEDGER_EXTRACT_MEMORY_MB); stopped",
                )
                worker.job = None
                self._replace(worker)
            elif now >= job.deadline:
                logger.warning(
                    "%s: extraction passed %s s; worker %s killed and replaced",
                    document.source,
                    self.limits.timeout_seconds,
                    worker.pid,
                )
                results[job.index] = _failure(
                    document,
                    "extraction_timeout",
                    f"extraction took longer than {self.limits.timeout_seconds:g} s "
                    "(NEWSLEDGER_EXTRACT_TIMEOUT_SECONDS); stopped",
                )
                worker.job = None
                self._replace(worker)

    def _over_memory(self, worker: _Worker) -> bool:
        cap = self.limits.memory_bytes
        return bool(cap) and worker.pid is not None and memory_of(worker.pid)[1] > cap

    def _check_ready(self, worker: _Worker, ready: set[Any]) -> None:
        """A starting worker says "ready" once it has loaded the extractor, or it died."""
        if worker.conn in ready:
            try:
                reply = worker.conn.recv()
            except (EOFError, OSError):
                reply = None
            worker.ready = reply == "ready"
            if isinstance(reply, tuple) and reply[0] == "cap_too_small":
                worker.kill()
                raise ExtractorStartError(
                    f"NEWSLEDGER_EXTRACT_MEMORY_MB={self.limits.memory_bytes // 2**20} is below "
                    f"what an extraction worker needs: {reply[1] // 2**20} MiB once loaded, "
                    f"plus at least {PAGE_HEADROOM_BYTES // 2**20} MiB for a page"
                )
            if worker.ready and self.startup_seconds is None:
                self.startup_seconds = time.monotonic() - self._began
                logger.debug("extraction workers ready in %.2f s", self.startup_seconds)
        if not worker.ready and worker.process.sentinel in ready:
            worker.process.join(STOP_GRACE_SECONDS)
            raise ExtractorStartError(
                f"an extraction worker could not start: it {_death(worker.process)}"
            )

    def _crashed(self, worker: _Worker, document: SourceDocument) -> FailedInput:
        death = _death(worker.process)
        logger.warning("%s: extraction worker %s %s; replaced", document.source, worker.pid, death)
        worker.job = None
        self._replace(worker)
        return _failure(
            document, "extractor_crash", f"the extraction worker {death} during this page"
        )


def _result(document: SourceDocument, reply: object) -> Extracted:
    if isinstance(reply, FailedInput):
        return reply
    if reply == MEMORY:
        return _failure(document, "extraction_memory", MEMORY_MESSAGE)
    if (
        isinstance(reply, tuple)
        and len(reply) == 2
        and isinstance(reply[0], ArticleContent)
        and isinstance(reply[1], str)
    ):
        return ExtractedArticle(document, reply[0], reply[1])
    raise TypeError(f"unexpected reply from an extraction worker: {type(reply).__name__}")


# --- runs -----------------------------------------------------------------------------------------

_session: ContextVar[ExtractionPool | None] = ContextVar("newsledger_extraction_pool", default=None)
_limits: ContextVar[PoolLimits | None] = ContextVar("newsledger_extraction_limits", default=None)


def active_pool() -> ExtractionPool | None:
    """The pool of the run in progress (see :func:`extraction_session`), if any."""
    return _session.get()


def session_limits() -> PoolLimits | None:
    """The limits of the run in progress (also with ``0`` workers), if any."""
    return _limits.get()


def wants_pool(pool: ExtractionPool | None, documents: Sequence[SourceDocument]) -> bool:
    """Extract in the pool, or in-process? In-process without a pool, with ``0`` workers, or
    while no worker runs yet and the run's input so far is small (a one-file ingest pays
    nothing): see ``SMALL_INPUT_BYTES`` and ``SMALL_PAGE_BYTES``."""
    if pool is None or pool.limits.workers < 1 or not documents:
        return False
    if pool.running:
        return True
    sizes = [len(d.raw) for d in documents]
    return pool.in_process_bytes + sum(sizes) > SMALL_INPUT_BYTES or max(sizes) > SMALL_PAGE_BYTES


class Terminated(SystemExit):
    """SIGTERM arrived during a run: raised so the run unwinds (workers stopped, run recorded)."""


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(128 + signum)


@contextmanager
def extraction_session(settings: Settings) -> Iterator[ExtractionPool | None]:
    """The extraction pool of one run: started on first need, stopped when the run ends.

    In the main thread of a process that leaves SIGTERM at its default (the CLI), SIGTERM is
    turned into :class:`Terminated` for the run's duration, so the run unwinds and stops its
    workers; a process that handles SIGTERM itself (Prefect's engine, ``serve``) keeps its
    handler. A session inside a session reuses the outer pool."""
    if _session.get() is not None:
        yield _session.get()
        return
    limits = PoolLimits.from_settings(settings)
    limits_token = _limits.set(limits)
    if limits.workers < 1:
        try:
            yield None
        finally:
            _limits.reset(limits_token)
        return
    pool = ExtractionPool(limits)
    token = _session.set(pool)
    handled = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    )
    if handled:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield pool
    finally:
        try:
            pool.close()
        finally:
            _session.reset(token)
            _limits.reset(limits_token)
            if handled:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)


__all__ = [
    "ExtractionPool",
    "ExtractionPoolClosed",
    "PoolLimits",
    "Terminated",
    "active_pool",
    "extraction_session",
    "session_limits",
    "usable_cpus",
    "wants_pool",
    "worker_main",
]
