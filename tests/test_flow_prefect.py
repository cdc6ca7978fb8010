"""The `ingest_files` Prefect flow on Prefect's real engine (the session's `prefect server`,
tests/prefect_server.py), writing a real DuckDB ledger."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pytest
from prefect_server import Server

pytestmark = pytest.mark.prefect

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_NAME = "cnn-2025-09-02-idf-chief-netanyahu.txt"


@pytest.fixture(scope="session")
def prefect_harness(
    prefect_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """This process's flows run against the session's Prefect server, with a PREFECT_HOME of
    their own (set before prefect loads, and in its settings if it already has)."""
    home = tmp_path_factory.mktemp("prefect-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PREFECT_HOME", str(home))
        patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        patch.setenv("PREFECT_API_URL", prefect_server.api_url)
        patch.delenv("PREFECT_PROFILE", raising=False)
        from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

        with temporary_settings(
            updates={PREFECT_API_URL: prefect_server.api_url, PREFECT_HOME: home}
        ):
            yield home


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    shutil.copytree(REPO_ROOT / "seeds", folder)
    return folder


def run_flow(paths: list[str], db: Path) -> tuple[Any, dict[str, Any]]:
    from newsledger.flows.ingest import ingest_files

    state = ingest_files(paths=paths, db=str(db), return_state=True)
    return state, state.result()


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_flow_ingests_the_seed_then_finds_it_unchanged_and_records_bad_inputs(
    prefect_harness: Path, seeds: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import get_current_settings

    assert get_current_settings().home.resolve() == prefect_harness.resolve()

    db = tmp_path / "ledger.duckdb"
    state, summary = run_flow([str(seeds)], db)
    assert state.is_completed()
    assert (summary["new"], summary["revised"], summary["unchanged"], summary["failed"]) == (
        1,
        0,
        0,
        0,
    )
    assert summary["skipped"] == 1  # seeds/feeds.yaml
    assert summary["stored"][0]["revision"] == 1
    assert query(
        db, "SELECT count(*), min(authors), min(published_at)::VARCHAR FROM revisions"
    ) == [(1, ["Tal Shalev", "Dana Karni"], "2025-09-02")]

    # Again, with bad inputs next to the (unchanged) seed: recorded, and the run completes.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.html").write_bytes(b"\x00\x01\x02\x03" * 64)
    (bad / "shell.html").write_text("<html><head><script>app()</script></head><body></body></html>")
    (bad / "report.pdf").write_bytes(b"%PDF-1.7")
    paths = [str(seeds), str(bad), str(bad / "report.pdf"), str(tmp_path / "missing.txt")]
    state2, again = run_flow(paths, db)
    assert state2.is_completed()
    assert (again["new"], again["revised"], again["unchanged"], again["failed"]) == (0, 0, 1, 5)
    assert {(f["stage"], f["error"]) for f in again["failures"]} == {
        ("load", "empty"),
        ("load", "binary"),
        ("clean", "no_content"),
        ("load", "unsupported"),
        ("load", "missing"),
    }
    failures = query(db, "SELECT input, stage, error, message, run_id FROM failures")
    assert {r[0] for r in failures} == {
        str(bad / "empty.txt"),
        str(bad / "binary.html"),
        str(bad / "shell.html"),
        str(bad / "report.pdf"),
        str(tmp_path / "missing.txt"),
    }
    assert all(r[3] and r[4] == again["run_id"] for r in failures)
    assert query(db, "SELECT count(*) FROM revisions") == [(1,)]

    runs = query(
        db,
        "SELECT run_id, orchestrator, prefect_flow_run_id, status, new_count, "
        "unchanged_count, failed_count FROM ingest_runs ORDER BY started_at",
    )
    assert [r[0] for r in runs] == [summary["run_id"], again["run_id"]]
    assert [r[1:2] + r[3:] for r in runs] == [
        ("prefect", "completed", 1, 0, 0),
        ("prefect", "completed", 0, 1, 5),
    ]
    flow_run_ids = [UUID(r[2]) for r in runs]
    assert flow_run_ids == [state.state_details.flow_run_id, state2.state_details.flow_run_id]

    # The runs are visible in Prefect, with one task run per step/batch.
    with get_client(sync_client=True) as client:
        flow_runs = [client.read_flow_run(run_id) for run_id in flow_run_ids]
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_ids[0]]))
        )
    assert all(r.state is not None and r.state.is_completed() for r in flow_runs)
    assert {r.flow_id for r in flow_runs} == {flow_runs[0].flow_id}
    names = sorted(run.name.rsplit("-", 1)[0] for run in task_runs)
    steps = ("discover-files", "begin-run", "prepare-batch", "store-batch", "finish-run")
    # a run that stored a revision refreshes the search index as a task, under the write slot
    for step in (*steps, "refresh-search-index"):
        assert step in names, names
    assert all(run.state is not None and run.state.is_completed() for run in task_runs)


def test_a_store_task_retried_after_its_write_committed_stores_nothing_twice(
    prefect_harness: Path, seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store-batch task fails once *after* its transaction committed (here: sending the
    events; in the field: releasing the Prefect write slot). Prefect retries it; the retry finds
    the batch key and returns the outcomes of the committed write: one observation, reported
    as new, and the events say so."""
    from newsledger.tasks import prefect_tasks
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    original = prefect_tasks._stored
    calls: list[list[str]] = []

    def fails_once(settings: Any, run_id: str, outcomes: list[Any]) -> list[Any]:
        calls.append([o.outcome for o in outcomes])
        if len(calls) == 1:
            raise RuntimeError("the API went away after the write committed")
        return original(settings, run_id, outcomes)

    monkeypatch.setattr(prefect_tasks, "_stored", fails_once)
    db = tmp_path / "ledger.duckdb"
    state, summary = run_flow([str(seeds / "articles")], db)

    assert state.is_completed()
    assert calls == [["new"], ["new"]]  # the retry got the committed write's outcomes back
    assert (summary["new"], summary["unchanged"], summary["failed"]) == (1, 0, 0)
    assert query(db, "SELECT outcome, count(*) FROM observations GROUP BY ALL") == [("new", 1)]
    assert query(db, "SELECT count(*) FROM revisions") == [(1,)]
    assert query(db, "SELECT count(*) FROM batch_writes") == [(0,)]  # the finished run forgot
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    (store,) = [r for r in task_runs if r.name.startswith("store-batch")]
    assert store.run_count == 2 and store.state is not None and store.state.is_completed()


def test_a_flow_run_extracts_in_the_pool_and_a_runaway_page_is_stopped(
    prefect_harness: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prepare task of a flow run extracts in the run's worker pool: a page that keeps
    trafilatura busy for close to a minute is stopped at the 2 s limit (only a worker can be
    stopped), and the other pages of its batch are stored."""
    from test_extraction_pool import endless_page, folder_with, pool_workers

    monkeypatch.setenv("NEWSLEDGER_EXTRACT_WORKERS", "2")
    monkeypatch.setenv("NEWSLEDGER_EXTRACT_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("NEWSLEDGER_EXTRACT_MAX_ELEMENTS", "0")  # the page reaches trafilatura
    monkeypatch.setenv("NEWSLEDGER_BATCH_SIZE", "3")  # batches prepared ahead in a helper thread
    folder = folder_with(tmp_path, 6, {"endless.html": endless_page()})
    db = tmp_path / "ledger.duckdb"
    state, summary = run_flow([str(folder)], db)
    assert state.is_completed()
    assert (summary["new"], summary["failed"]) == (6, 1)
    [failure] = summary["failures"]
    assert (failure["input"].endswith("endless.html"), failure["error"]) == (
        True,
        "extraction_timeout",
    )
    assert query(db, "SELECT count(*) FROM revisions") == [(6,)]
    assert pool_workers(os.getpid()) == []  # stopped at the end of the run


def test_the_export_flow_writes_new_revisions_once(
    prefect_harness: Path, seeds: Path, tmp_path: Path
) -> None:
    """The `export-parquet` flow (the scheduled deployment's) on Prefect's engine: the seed's
    revision in the outlet/day folders, then nothing new on the next run."""
    from newsledger.flows.export import export_parquet

    db, out = tmp_path / "ledger.duckdb", tmp_path / "parquet"
    state, _ = run_flow([str(seeds / "articles")], db)
    assert state.is_completed()
    first = export_parquet(output=str(out), db=str(db))
    assert (first["revisions"], first["files"], first["partition_by"]) == (
        1,
        1,
        ["outlet", "day"],
    )
    (path,) = out.rglob("*.parquet")
    assert path.relative_to(out).parts[0] == "outlet=CNN"
    assert export_parquet(output=str(out), db=str(db))["revisions"] == 0
    assert query(db, "SELECT status, revisions FROM parquet_exports ORDER BY started_at") == [
        ("done", 1),
        ("done", 0),
    ]


def test_a_poll_flow_fetches_extracts_and_stores_at_once_one_task_per_batch(
    prefect_harness: Path, site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll-feeds flow run goes through the overlapped pipeline on Prefect's engine: one
    fetch-stream task for the run's fetching (in a helper thread of the flow run), and per
    batch one extract-pages and one store-pages task, never one per page."""
    from newsledger.flows.web import poll_feeds
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    paragraph = "<p>{0}: the council met on Tuesday to debate the new budget for transport.</p>"
    links = []
    for i in range(4):
        site.set_page(
            f"/n/{i}.html",
            f"<html><head><title>Story {i}</title></head><body><article><h1>Story {i}</h1>"
            + paragraph.format(f"Story {i}") * 4
            + "</article></body></html>",
        )
        links.append(f"<item><link>{site.url(f'/n/{i}.html')}</link><guid>{i}</guid></item>")
    site.set_page(
        "/rss.xml",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>'
        + "".join(links)
        + "</channel></rss>",
        content_type="application/rss+xml",
    )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: fixture\n    url: {site.url('/rss.xml')}\n")
    for name, value in {
        "ALLOWED_HOSTS": "127.0.0.1",
        "PER_HOST_DELAY_SECONDS": "0",
        "PER_HOST_CONCURRENCY": "8",
        "BATCH_SIZE": "2",
    }.items():
        monkeypatch.setenv(f"NEWSLEDGER_{name}", value)
    db = tmp_path / "ledger.duckdb"

    state = poll_feeds(feeds_file=str(feeds), db=str(db), return_state=True)

    assert state.is_completed()
    summary = state.result()
    assert (summary["new"], summary["failed"]) == (4, 0), summary["failures"]
    assert query(db, "SELECT count(*) FROM revisions") == [(4,)]
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    names = [run.name.rsplit("-", 1)[0] for run in task_runs]
    assert all(run.state is not None and run.state.is_completed() for run in task_runs)
    assert names.count("fetch-stream") == 1 and "fetch-pages" not in names
    # four pages in batches of two: two of each, whatever order they were fetched in
    assert names.count("extract-pages") == names.count("store-pages") == 2, names
