"""The three-stage runner of the overlapped web pipeline (tasks/overlap.py), with real threads:
the stages run at once, in order, and the first failure anywhere stops all three."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from fixture_site import FixtureSite
from newsledger.tasks.extraction_pool import extraction_session
from newsledger.tasks.fetch import FetchRequest
from newsledger.tasks.overlap import FetchedPart, Handoff, run_stages, stream_fetches
from newsledger.tasks.settings import Settings

WAIT = 10.0  # generous: only a broken pipeline ever waits this long


def test_item_n_is_consumed_while_n_plus_1_is_transformed_and_n_plus_2_produced() -> None:
    produced = {n: threading.Event() for n in range(4)}
    transforming = {n: threading.Event() for n in range(4)}
    seen: list[str] = []

    def produce(handoff: Handoff[int]) -> None:
        for n in range(4):
            handoff.put(n)
            produced[n].set()

    def transform(n: int) -> str:
        transforming[n].set()
        if n + 1 < 4:  # item n+1 is produced while n is being transformed
            assert produced[n + 1].wait(WAIT)
        return f"item {n}"

    def consume(item: str) -> None:
        n = int(item.split()[1])
        if n + 1 < 4:  # item n+1 is transformed while n is being consumed
            assert transforming[n + 1].wait(WAIT)
        seen.append(item)

    run_stages(produce, transform, consume)

    assert seen == [f"item {n}" for n in range(4)]


def test_a_failed_consumer_stops_the_other_stages() -> None:
    stopped_calls: list[bool] = []

    def produce(handoff: Handoff[int]) -> None:
        for n in itertools.count():  # would never end on its own
            handoff.put(n)

    def consume(item: int) -> None:
        if item == 2:
            raise RuntimeError("the write failed")

    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="the write failed"):
        run_stages(produce, lambda n: n, consume, on_stop=lambda: stopped_calls.append(True))

    assert stopped_calls == [True]
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("newsledger")]


@pytest.mark.parametrize("stage", ["produce", "transform"])
def test_a_failed_stage_is_raised_in_the_caller(stage: str) -> None:
    consumed: list[int] = []

    def produce(handoff: Handoff[int]) -> None:
        handoff.put(1)
        if stage == "produce":
            raise ValueError("produce failed")
        handoff.put(2)

    def transform(n: int) -> int:
        if stage == "transform" and n == 2:
            raise ValueError("transform failed")
        return n

    with pytest.raises(ValueError, match=f"{stage} failed"):
        run_stages(produce, transform, consumed.append)
    assert consumed in ([], [1])  # what came before the failure may have been consumed


# --- the fetch stage starts the extraction workers ------------------------------------------


@pytest.mark.parametrize(("pages", "size", "started"), [(3, 900_000, True), (3, 2_000, False)])
def test_the_fetch_stage_starts_the_workers_once_the_run_has_fetched_enough(
    site: FixtureSite, tmp_path: Path, pages: int, size: int, started: bool
) -> None:
    """Over 2 MB fetched (what a run would extract in-process), the workers are started while
    fetching goes on, before any batch reaches the extraction stage; a small run starts none."""
    body = "<html><body><article>" + "<p>word</p>" * (size // 11) + "</article></body></html>"
    paths = [f"/big/{index}.html" for index in range(pages)]
    for path in paths:
        site.set_page(path, body)
    settings = Settings(
        db=tmp_path / "ledger.duckdb",
        prefect_home=tmp_path / ".prefect",
        allowed_hosts=["127.0.0.1"],
        per_host_delay_seconds=0.0,
        extract_workers=1,
        batch_size=pages,  # one batch, handed on after the last page
    )
    seen: list[tuple[int, bool]] = []
    with extraction_session(settings) as pool:
        assert pool is not None and not pool.running

        def on_batch(part: FetchedPart) -> None:
            seen.append((len(part.results), pool.running))

        stream_fetches(
            settings,
            [FetchRequest(site.url(path)) for path in paths],
            on_batch,
            stopped=threading.Event(),
        )
        assert pool.started == (1 if started else 0)
    assert seen == [(pages, started)]
