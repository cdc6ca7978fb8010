"""Store stage: the DuckDB revision ledger.

The file is opened for writing only for one short batch transaction at a time (DuckDB lets a
single process hold a read-write file, and then no other process may open it at all), so a
reader can get in between batches and two ingests interleave instead of failing: opening
retries on the file lock until ``Settings.lock_timeout_seconds``. Schema changes are numbered
SQL migrations in ``tasks/sql/migrations``; every other statement is a ``.sql`` file in
``tasks/sql``. Revisions are only ever inserted.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
from newsledger.tasks import torn_blocks
from newsledger.tasks.errors import DatabaseLockedError, StoreError
from newsledger.tasks.models import (
    FailedInput,
    KnownUnchanged,
    LastObservation,
    PreparedItem,
    StoredOutcome,
)
from newsledger.tasks.revisions import (
    LatestRevision,
    LedgerState,
    RevisionFields,
    articles_to_compare,
    batch_identities,
    plan_batch,
)
from newsledger.tasks.settings import Settings
from newsledger.tasks.values import json_default, utc_now

# DuckDB looks for pandas each time it converts a Python parameter; when pandas is not
# installed every attempt searches sys.path again (thousands of times per run, ~0.3 ms each).
# Record its absence once so the lookups fail at once.
if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
    sys.modules["pandas"] = None  # type: ignore[assignment]

SQL_DIR = Path(__file__).parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# DuckDB's "Could not set lock on file … Conflicting lock is held in …". Not just "lock": a
# corrupt file's "checksum … in block at location …" matched that, and was waited on for the
# whole lock timeout instead of being reported.
LOCK_MESSAGE = re.compile(r"could not set lock|conflicting lock", re.IGNORECASE)
# DuckDB keeps one database instance per file in a process, shared by that process's
# connections to it: while one is open, a connection asking for another configuration (a
# writer beside readers, or the other way round) is refused with "Can't open a connection to
# same database file with a different configuration than existing connections". In a server
# that answers requests on several threads, the other connection closes within its request.
SAME_PROCESS_MESSAGE = re.compile(r"same database file with a different configuration")

# A killed writer leaves a WAL. duckdb 1.5.5 loses the replayed rows from a secondary index
# (``revisions_article_id_idx``) when a WAL is replayed and the file is then closed without an
# explicit CHECKPOINT: `article_id = X` stops finding them while the primary key still holds
# them, and every later insert fails with a duplicate key
# (tests/benchmarks/repro_duckdb_wal_index_replay.py). So a writer that finds a WAL
# checkpoints it at once and checks the indexes (:func:`repair_after_unclean_shutdown`).
# Writers checkpoint every commit (`checkpoint_threshold=0b`), so a WAL is left only by a kill
# in the commit or its checkpoint, but they keep writing the WAL first: skipping it as well
# (`auto_checkpoint_skip_wal_threshold=0`) was tried, and a kill -9 in such a commit left a
# file that failed its block checksums (a lost ledger).
WRITER_CONFIG: dict[str, Any] = {"checkpoint_threshold": "0b"}


@cache
def sql(name: str) -> str:
    """The text of ``tasks/sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def story_summary_rows(*, only_listed: bool) -> str:
    """``story_summary_rows.sql``: the summary rows of the stories ``$article_ids`` (a list)
    when ``only_listed``, else of every story."""
    filters = {
        "/*revisions_of_stories*/": "WHERE article_id IN (SELECT unnest($article_ids))",
        "/*articles_of_stories*/": "WHERE a.article_id IN (SELECT unnest($article_ids))",
    }
    text = sql("story_summary_rows")
    for marker, condition in filters.items():
        text = text.replace(marker, condition if only_listed else "")
    return text


def story_summary_statement(name: str) -> str:
    """``refresh_story_summary`` (the batch write: the stories ``$article_ids``) or
    ``rebuild_story_summary`` (every story), with the one definition of the rows."""
    return sql(name).replace(
        "/*rows*/", story_summary_rows(only_listed=name == "refresh_story_summary")
    )


def migrations() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise StoreError(f"migration file {path.name} is not named NNN_name.sql")
        found.append((int(match.group(1)), match.group(2), path))
    return found


def migrate(conn: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply pending migrations, each in its own transaction. Returns the versions applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, path in migrations():
        if version in done:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utc_now()]
            )
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    if applied:
        # Never leave schema changes in the WAL: duckdb 1.5.5 cannot replay an ALTER TABLE of
        # migration 004 after a kill ("Failure while replaying WAL file … GetDefaultDatabase
        # with no default database set"), and the ledger would never open again.
        conn.execute("CHECKPOINT")
    return applied


def create_ledger(path: Path) -> list[int]:
    """Create a new ledger atomically: migrate and checkpoint a private file, then link it into
    place, so a writer killed while creating it leaves no ledger rather than one whose WAL
    holds schema changes (see :func:`migrate`). Another process creating it first wins.
    Returns the migrations applied (none when the ledger exists)."""
    if path.exists():
        return []
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.new")
    for leftover in (scratch, Path(f"{scratch}.wal")):
        leftover.unlink(missing_ok=True)
    try:
        conn = duckdb.connect(str(scratch), config=WRITER_CONFIG)
        try:
            applied = migrate(conn)
        finally:
            conn.close()
        try:
            os.link(scratch, path)  # no-clobber: a ledger created meanwhile is kept
        except FileExistsError:
            return []
        return applied
    finally:
        scratch.unlink(missing_ok=True)
        Path(f"{scratch}.wal").unlink(missing_ok=True)


def _is_lock_error(error: Exception) -> bool:
    return isinstance(error, duckdb.IOException) and bool(LOCK_MESSAGE.search(str(error)))


def _is_same_process_conflict(error: Exception) -> bool:
    return isinstance(error, duckdb.ConnectionException) and bool(
        SAME_PROCESS_MESSAGE.search(str(error))
    )


def connect_with_retry(
    path: Path,
    *,
    read_only: bool,
    timeout: float,
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting (with jittered backoff) while another process holds its lock, or
    while another connection of this process holds it open with another configuration."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    repaired: list[torn_blocks.TornBlock] = []
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only, config=config or {})
        except duckdb.Error as error:
            block = torn_blocks.torn_block(path, error)
            if block is not None and len(repaired) < MAX_TORN_BLOCKS:
                torn_blocks.repair(path, block)
                repaired.append(block)
                continue
            same_process = _is_same_process_conflict(error)
            if not (same_process or _is_lock_error(error)):
                _undo_repairs(path, repaired)
                raise StoreError(f"cannot open the ledger {path}: {error}") from error
            if time.monotonic() >= deadline:
                holder = (
                    "another connection of this process, opened with another configuration,"
                    if same_process
                    else "another process"
                )
                raise DatabaseLockedError(
                    f"the ledger {path} stayed locked by {holder} for {timeout:.0f} s "
                    "(raise NEWSLEDGER_LOCK_TIMEOUT_SECONDS, or stop the other writer)"
                ) from error
            time.sleep(min(delay * (1 + random.random()), max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)  # a batch holds the lock for tens of milliseconds
            continue
        if repaired:
            _confirm_repairs(conn, path, repaired)
        return conn


# A killed writer tears at most the block its checkpoint was writing (DuckDB writes one block
# at a time); a few more are allowed, then the ledger is refused.
MAX_TORN_BLOCKS = 4


def _confirm_repairs(
    conn: duckdb.DuckDBPyConnection, path: Path, repaired: list[torn_blocks.TornBlock]
) -> None:
    """Keep the checksum repairs only if every repaired block is a metadata block of the file
    (the torn in-place write of a checkpoint); otherwise undo them and refuse the ledger."""
    try:
        foreign = [block for block in repaired if not torn_blocks.is_metadata_block(conn, block)]
    except BaseException:
        conn.close()
        _undo_repairs(path, repaired)
        raise
    if foreign:
        conn.close()
        _undo_repairs(path, repaired)
        raise StoreError(
            f"cannot open the ledger {path}: block {foreign[0].block_id} fails its checksum and "
            "is not a metadata block a killed checkpoint could have torn (damaged storage?); "
            "restore a copy of the ledger"
        )
    blocks = ", ".join(str(block.block_id) for block in repaired)
    print(
        f"newsledger: repaired the ledger {path} after a writer was killed in a checkpoint: "
        f"metadata block {blocks} was torn; the ledger is as of its last completed commit "
        f"(recorded in {torn_blocks.repairs_log(path)})",
        file=sys.stderr,
    )


def _undo_repairs(path: Path, repaired: list[torn_blocks.TornBlock]) -> None:
    for block in reversed(repaired):
        torn_blocks.undo(path, block)


@contextmanager
def open_writer(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-write connection with the schema migrated. Close it quickly."""
    create_ledger(settings.db)
    conn = _open_for_writing(settings)
    try:
        _migrate_once(conn, settings.db)
        yield conn
    finally:
        conn.close()


def _open_for_writing(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open the ledger read-write; a WAL left by a killed writer of an older version (or by
    another program) is checkpointed at once and checked (:func:`repair_after_unclean_shutdown`)
    before anything else can close the file."""
    conn = connect_with_retry(
        settings.db, read_only=False, timeout=settings.lock_timeout_seconds, config=WRITER_CONFIG
    )
    try:
        # Checked once we hold the lock (a live writer's WAL is no sign), before any write.
        if _unclean_shutdown(settings.db):
            repair_after_unclean_shutdown(conn, settings.db)
    except BaseException:
        conn.close()
        raise
    return conn


# Ledger files (path, inode) this process has already brought up to date: later opens of the
# same file skip the migration check. A replaced file has another inode and is checked again.
_MIGRATED_FILES: set[tuple[str, int]] = set()


def _migrate_once(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    key = (str(path.resolve()), path.stat().st_ino)
    if key not in _MIGRATED_FILES:
        migrate(conn)
        _MIGRATED_FILES.add(key)


def _unclean_shutdown(path: Path) -> bool:
    """A ``.wal`` beside the file once we hold the lock: its last writer did not close it
    (a clean close checkpoints and removes the WAL)."""
    return Path(f"{path}.wal").exists()


def repair_after_unclean_shutdown(conn: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """After a killed writer left a WAL (an older newsledger, or another program): checkpoint
    the replayed WAL at once, before anything can close the file (a close without it loses the
    replayed rows from the article_id indexes: see WRITER_CONFIG), then check that a keyed
    lookup finds every revision of the stories the unfinished (and latest) runs revised. If it
    does not (a ledger damaged so before), the article_id indexes are built again from the
    rows; if that does not cure it the ledger is refused with a StoreError. Returns the
    articles whose lookups were repaired."""
    conn.execute("CHECKPOINT")
    expected = dict(conn.execute(sql("unfinished_run_articles")).fetchall())
    broken = _lookup_mismatches(conn, expected)
    if not broken:
        return []
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(sql("rebuild_article_indexes"))
        conn.execute("COMMIT")
    except duckdb.Error as error:
        conn.execute("ROLLBACK")
        raise StoreError(
            f"the ledger {path} was left inconsistent by a killed writer ({len(broken)} "
            f"stories' revisions are invisible to lookups) and rebuilding its indexes failed: "
            f"{error}"
        ) from error
    conn.execute("CHECKPOINT")
    still = _lookup_mismatches(conn, {key: expected[key] for key in broken})
    if still:
        raise StoreError(
            f"the ledger {path} was left inconsistent by a killed writer: the revisions of "
            f"{len(still)} stories (e.g. {still[0]}) are invisible to lookups even after the "
            "indexes were rebuilt; restore a copy or export and re-import the revisions table"
        )
    print(
        f"newsledger: rebuilt the article indexes: {len(broken)} stories' revisions were "
        "unfindable after a killed writer",
        file=sys.stderr,
    )
    return broken


def _lookup_mismatches(conn: duckdb.DuckDBPyConnection, expected: dict[str, int]) -> list[str]:
    ids = sorted(expected)
    found: dict[str, int] = {}
    for start in range(0, len(ids), 10_000):
        rows = conn.execute(sql("lookup_revision_counts"), {"ids": ids[start : start + 10_000]})
        found.update(rows.fetchall())
    return [key for key in ids if found.get(key, 0) != expected[key]]


def ensure_ledger(settings: Settings) -> list[int]:
    """Create the ledger file and apply migrations; returns the versions applied now."""
    created = create_ledger(settings.db)
    conn = _open_for_writing(settings)
    try:
        return created + migrate(conn)
    finally:
        conn.close()


def _lock_down(conn: duckdb.DuckDBPyConnection) -> None:
    """Times in UTC whatever the machine's zone, then the configuration locked (users cannot
    SET it afterwards). Both are settings of the database instance, which a process's
    concurrent connections to one file share (see SAME_PROCESS_MESSAGE): when another
    locked-down reader of this process locked it first, they are checked, not set."""
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET lock_configuration = true")
    except duckdb.InvalidInputException:
        row = conn.execute(
            "SELECT current_setting('lock_configuration'), current_setting('TimeZone')"
        ).fetchone()
        if not (row and row[0] and row[1] in ("UTC", "Etc/UTC")):
            raise


@contextmanager
def open_reader(
    settings: Settings,
    *,
    locked_down: bool = True,
    query_timeout: float | None = 60.0,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection safe to hand a user's SQL: no writes, no access to other files,
    no extension installs, configuration locked, a memory cap (``memory_limit``, by default
    ``settings.query_memory_limit``: one process's locked-down readers of a file must all ask
    for the same, see SAME_PROCESS_MESSAGE) and a query time limit."""
    if not settings.db.exists():
        raise StoreError(
            f"no ledger at {settings.db}: run `newsledger ingest PATH` first "
            "(or point --db / NEWSLEDGER_DB at an existing ledger)"
        )
    config: dict[str, Any] = {}
    if locked_down:
        config = {
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": memory_limit or settings.query_memory_limit,
            "max_temp_directory_size": "0GB",
        }
    conn = connect_with_retry(
        settings.db, read_only=True, timeout=settings.lock_timeout_seconds, config=config
    )
    timer: threading.Timer | None = None
    try:
        if locked_down:
            _lock_down(conn)
        if query_timeout:
            timer = threading.Timer(query_timeout, conn.interrupt)
            timer.daemon = True
            timer.start()
        yield conn
    finally:
        if timer is not None:
            timer.cancel()
        conn.close()


# --- runs ---------------------------------------------------------------------------------------


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def begin_run(
    settings: Settings,
    run_id: str,
    flow: str,
    *,
    orchestrator: str,
    arguments: dict[str, Any],
    prefect_flow_run_id: str | None = None,
    lookup_inputs: Sequence[str] = (),
) -> dict[str, LastObservation]:
    """Record the start of a run; runs of this host whose process died are marked crashed.

    Returns the last successful observation of each of ``lookup_inputs`` (the paths a file
    ingest is about to read), read in the same short open of the ledger."""
    host = socket.gethostname()
    with open_writer(settings) as conn:
        dead = [
            run
            for run, pid in conn.execute(sql("running_runs"), {"host": host}).fetchall()
            if pid is not None and pid != os.getpid() and not _process_alive(pid)
        ]
        conn.execute("BEGIN TRANSACTION")
        if dead:
            conn.execute(sql("mark_crashed_runs"), {"ids": dead})
            conn.execute(sql("forget_batches"), {"ids": dead})
        conn.execute(
            sql("begin_run"),
            {
                "run_id": run_id,
                "flow": flow,
                "started_at": utc_now(),
                "orchestrator": orchestrator,
                "prefect_flow_run_id": prefect_flow_run_id,
                "host": host,
                "pid": os.getpid(),
                "arguments": json.dumps(arguments, default=str),
            },
        )
        conn.execute("COMMIT")
        return read_last_observations_by_input(conn, lookup_inputs) if lookup_inputs else {}


def finish_run(
    settings: Settings,
    run_id: str,
    *,
    new: int,
    revised: int,
    unchanged: int,
    failed: int,
    skipped: int,
    status: str = "completed",
) -> None:
    with open_writer(settings) as conn:
        conn.execute("BEGIN TRANSACTION")
        conn.execute(sql("forget_batches"), {"ids": [run_id]})
        conn.execute(
            sql("finish_run"),
            {
                "run_id": run_id,
                "finished_at": utc_now(),
                "status": status,
                "new": new,
                "revised": revised,
                "unchanged": unchanged,
                "failed": failed,
                "skipped": skipped,
            },
        )
        conn.execute("COMMIT")


# --- the batch write ----------------------------------------------------------------------------


def last_observations_by_input(
    settings: Settings, inputs: Sequence[str]
) -> dict[str, LastObservation]:
    """The last successful observation of each input (path or URL as given), in one read."""
    if not inputs:
        return {}
    with open_writer(settings) as conn:
        return read_last_observations_by_input(conn, inputs)


def read_last_observations_by_input(
    conn: duckdb.DuckDBPyConnection, inputs: Sequence[str]
) -> dict[str, LastObservation]:
    """:func:`last_observations_by_input` on an open connection (one row per input read from
    ``input_state``, however long the input's history)."""
    found: dict[str, LastObservation] = {}
    for start in range(0, len(inputs), 50_000):
        rows = conn.execute(
            sql("last_observations_by_input"), {"inputs": list(inputs[start : start + 50_000])}
        ).fetchall()
        found.update((row[0], LastObservation(*row[1:])) for row in rows)
    return found


def read_ledger_state(
    conn: duckdb.DuckDBPyConnection, items: Sequence[PreparedItem]
) -> LedgerState:
    """The state :func:`plan_batch` starts from, for the identities of ``items``: the article
    of each identity, each article's latest revision, and the compared fields of the latest
    revisions the batch may revise."""
    identities = batch_identities(items)
    if not identities:
        return LedgerState()
    article_of: dict[str, str] = {}
    latest: dict[str, LatestRevision] = {}
    for row in conn.execute(sql("latest_state"), {"identities": identities}).fetchall():
        identity, article_id, revision, content_hash = row
        article_of[identity] = article_id
        if revision is not None:
            latest[article_id] = LatestRevision(article_id, revision, content_hash)
    needed = articles_to_compare(items, article_of, latest)
    if needed:
        cursor = conn.execute(sql("latest_details"), {"article_ids": sorted(needed)})
        names = [column[0] for column in cursor.description or []]
        for row in cursor.fetchall():
            values = dict(zip(names, row, strict=True))
            article_id = values.pop("article_id")
            values["authors"] = tuple(values["authors"] or ())
            latest[article_id] = replace(latest[article_id], fields=RevisionFields(**values))
    return LedgerState(article_of, latest)


def _insert(conn: duckdb.DuckDBPyConnection, statement: str, rows: Sequence[Any]) -> None:
    """Insert planned rows (dataclasses) with one statement, as one JSON parameter."""
    if rows:
        payload = [asdict(row) for row in rows]
        conn.execute(sql(statement), {"rows": json.dumps(payload, default=json_default)})


BeforeCommit = Callable[[duckdb.DuckDBPyConnection, list[StoredOutcome]], None]


def batch_key(run_id: str, items: Sequence[PreparedItem]) -> str:
    """Idempotency key of a batch write: SHA-256 of the run and of what each item would store
    (input, identity, raw and content hashes, extractor; a failure's stage and reason)."""
    parts: list[list[str | None]] = []
    for item in items:
        if isinstance(item, FailedInput):
            parts.append(
                ["failed", item.input, item.identity, item.stage, item.error, item.message]
            )
            continue
        content_hash = (
            item.expected_content_hash
            if isinstance(item, KnownUnchanged)
            else item.content.content_hash
        )
        document = item.document
        parts.append(
            [
                type(item).__name__,
                document.source,
                document.identity,
                document.raw_hash,
                content_hash,
                item.extractor_version,
            ]
        )
    canonical = json.dumps([run_id, parts], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _written_before(
    conn: duckdb.DuckDBPyConnection, run_id: str, key: str, items: Sequence[PreparedItem]
) -> tuple[list[StoredOutcome], list[KnownUnchanged]] | None:
    """What a write of this batch returned when it committed before (None: it did not). The
    stale items of that write (handed back, not stored) are those with no outcome."""
    row = conn.execute(sql("batch_written"), {"run_id": run_id, "batch_key": key}).fetchone()
    if row is None:
        return None
    outcomes = [StoredOutcome(**fields) for fields in json.loads(row[0])]
    stored = {outcome.input for outcome in outcomes}
    stale = [i for i in items if isinstance(i, KnownUnchanged) and i.document.source not in stored]
    return outcomes, stale


def write_batch(
    settings: Settings,
    run_id: str,
    items: Sequence[PreparedItem],
    *,
    before_commit: BeforeCommit | None = None,
    key: str | None = None,
) -> tuple[list[StoredOutcome], list[KnownUnchanged]]:
    """Store one batch in ONE transaction and return what happened to each input.

    It reads the ledger state the batch touches, lets :func:`plan_batch` (the revision rule,
    ``tasks/revisions.py``) decide every row and outcome, inserts the rows and commits. Sources
    skipped as unchanged (``KnownUnchanged``) whose article another process revised since are
    returned as *stale*, to be extracted and written again. ``before_commit`` runs inside
    the same transaction (crawl state, raw archive).

    With a ``key`` (:func:`batch_key`) the write is idempotent within its run: it records the
    key and its outcomes in the same transaction, and a second write with that key (a retry
    after a failure that came once the first had committed) stores nothing and returns the
    outcomes of the first."""
    now = utc_now()
    with open_writer(settings) as conn:
        conn.execute("BEGIN TRANSACTION")
        try:
            if key is not None:
                done = _written_before(conn, run_id, key, items)
                if done is not None:
                    conn.execute("ROLLBACK")
                    return done
            plan = plan_batch(items, read_ledger_state(conn, items), run_id=run_id, now=now)
            outcomes = list(plan.outcomes)
            _insert(conn, "insert_articles", plan.articles)
            _insert(conn, "insert_identities", plan.identities)
            _insert(conn, "insert_revisions", plan.revisions)
            if plan.revisions:  # the stories' summary rows (migration 017), same transaction
                conn.execute(
                    story_summary_statement("refresh_story_summary"),
                    {"article_ids": sorted({row.article_id for row in plan.revisions})},
                )
            _insert(conn, "insert_observations", plan.observations)
            if plan.observations:
                conn.execute(sql("update_input_state"), {"count": len(plan.observations)})
            _insert(conn, "insert_failures", plan.failures)
            if before_commit is not None:
                before_commit(conn, outcomes)
            if key is not None:
                conn.execute(
                    sql("record_batch"),
                    {
                        "run_id": run_id,
                        "batch_key": key,
                        "written_at": now,
                        "outcomes": json.dumps([asdict(o) for o in outcomes]),
                    },
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return outcomes, list(plan.stale)
