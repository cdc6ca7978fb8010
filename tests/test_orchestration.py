"""Event-driven orchestration against a REAL Prefect server on 127.0.0.1: the deployments of
prefect.yaml served by `newsledger serve`, `newsledger submit` → the ingest-urls trigger → the
story in the ledger → `newsledger.article.created` recorded by the server; a revised story's
event → watch-article; two flow runs writing one ledger at once through the write limit.

The server (`prefect server start`, SQLite in a temporary PREFECT_HOME) is started once per
session, `newsledger serve` once per module. Waiting is bounded polling, never a timed
assertion: a deadline only turns a hang into a failure that shows the serve log.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixture_site import FixtureSite
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import open_reader
from prefect_server import Server, clean_env, client, free_port, wait_for
from processes import SLOT_WRITER, flow_run_processes, session_processes

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[1]
WRITE_LIMIT = "newsledger-ledger-writes"


@dataclass
class Served:
    server: Server
    ledger: Path
    env: dict[str, str]
    log: Path

    def settings(self) -> Settings:
        return Settings(db=self.ledger, lock_timeout_seconds=60)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if not self.ledger.exists():
            return []
        with open_reader(self.settings(), locked_down=False) as conn:
            return conn.execute(sql, params or {}).fetchall()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsledger.flows.cli", *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def served(prefect_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`newsledger serve` of the repository's prefect.yaml against the test server, writing a
    ledger in tmp; fixture pages on 127.0.0.1 are allowed; scheduled polls see no enabled feed."""
    work = tmp_path_factory.mktemp("served")
    feeds = work / "feeds.yaml"
    feeds.write_text(
        "feeds:\n  - name: off\n    url: http://127.0.0.1:9/feed.xml\n    enabled: false\n"
    )
    env = clean_env(
        PREFECT_API_URL=prefect_server.api_url,
        PREFECT_HOME=str(work / "prefect-home"),
        NEWSLEDGER_PREFECT_HOME=str(work / "prefect-home"),
        NEWSLEDGER_DB=str(work / "ledger.duckdb"),
        NEWSLEDGER_ALLOWED_HOSTS="127.0.0.1",
        NEWSLEDGER_FEEDS_FILE=str(feeds),
        NEWSLEDGER_PER_HOST_DELAY_SECONDS="0",
    )
    log = work / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "newsledger.flows.cli",
                "serve",
                "--config",
                str(REPO_ROOT / "prefect.yaml"),
                # an hour between polls: every run of this module starts because its
                # prefect.flow-run.Scheduled event woke serve (flows/serve.py:run_woken)
                "--poll-seconds",
                "3600",
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(prefect_server, work / "ledger.duckdb", env, log)

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"newsledger serve exited:\n{log.read_text(errors='replace')[-4000:]}")
        with client(prefect_server) as c:
            names = {a.name for a in c.read_automations()}
            deployments = {d.name for d in c.read_deployments()}
        return (
            {
                "ingest-urls on newsledger.url.submitted",
                "watch-article on newsledger.article.revised",
            }
            <= names
            and "watch-article" in deployments
            and "Your deployments are being served" in log.read_text(errors="replace")
        )

    try:
        wait_for(ready, "newsledger serve to register the deployments", log=log)
        yield served
    finally:
        process.terminate()  # SIGTERM: Prefect's runner shuts down (and pauses schedules)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def story(title: str, version: int) -> str:
    paragraphs = "".join(
        f"<p>Paragraph {i} of the story {title}: the council met again and voted on the harbour "
        f"wall, version {version} of the reporting with enough words to count.</p>"
        for i in range(6)
    )
    return (
        f"<html lang='en'><head><title>{title} v{version}</title></head><body><article>"
        f"<h1>{title} v{version}</h1>{paragraphs}</article></body></html>"
    )


def read_events(server: Server, name: str, resource_id: str) -> list[Any]:
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    with client(server) as c:
        page = c.read_events(
            EventFilter(
                event=EventNameFilter(name=[name]),
                resource=EventResourceFilter(id=[resource_id]),
            ),
            limit=50,
        )
    return list(page.events)


def latest(served: Served, url: str) -> tuple[str, int] | None:
    rows = served.query(
        "SELECT article_id, revision FROM latest_revisions WHERE identity = $url", {"url": url}
    )
    return (rows[0][0], rows[0][1]) if rows else None


def submit(served: Served, url: str) -> None:
    result = served.cli("submit", url)
    assert result.returncode == 0, result.stderr
    assert f"submitted {url}" in result.stdout


# --- tests --------------------------------------------------------------------------------------


def test_submitted_url_is_stored_and_announced(served: Served, site: FixtureSite) -> None:
    site.set_page("/news/harbour.html", story("Harbour wall", 1))
    url = site.url("/news/harbour.html")

    submit(served, url)
    article_id, revision = wait_for(
        lambda: latest(served, url), f"{url} in the ledger", log=served.log
    )
    assert revision == 1

    created = wait_for(
        lambda: read_events(
            served.server, "newsledger.article.created", f"newsledger.article.{article_id}"
        ),
        "the newsledger.article.created event on the server",
        log=served.log,
    )
    payload = created[0].payload
    assert payload["url"] == url
    assert payload["title"] == "Harbour wall v1"
    assert payload["revision"] == 1
    assert payload["words_added"] > 0 and payload["words_removed"] == 0
    assert any(r.role == "flow-run" for r in created[0].related)

    # The report of the run that stored this URL (other tests' runs report on the same server).
    (run_resource,) = [r for r in created[0].related if r.role == "flow-run"]
    flow_run_id = run_resource.id.removeprefix("prefect.flow-run.")

    def report() -> list[Any]:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        runs = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        with client(served.server) as c:
            return [
                a for a in c.read_artifacts(artifact_filter=runs) if a.key == "ingest-urls-report"
            ]

    (artifact,) = wait_for(report, "the run's report artifact", log=served.log)
    assert artifact.type == "table"
    assert {"outcome": "new", "count": 1, "input": "", "stage": "", "reason": ""} in (
        artifact.data if isinstance(artifact.data, list) else json.loads(artifact.data)
    )


def test_revised_story_triggers_watch_article(served: Served, site: FixtureSite) -> None:
    site.set_page("/news/vote.html", story("Council vote", 1))
    url = site.url("/news/vote.html")
    submit(served, url)
    article_id, _ = wait_for(lambda: latest(served, url), f"{url} in the ledger", log=served.log)
    assert served.query("SELECT watch_factor FROM tracked_urls WHERE url = $u", {"u": url}) == [
        (1.0,)
    ]

    site.set_page("/news/vote.html", story("Council vote", 2))
    submit(served, url)
    wait_for(lambda: (latest(served, url) or ("", 0))[1] == 2, "revision 2 stored", log=served.log)
    revised = wait_for(
        lambda: read_events(
            served.server, "newsledger.article.revised", f"newsledger.article.{article_id}"
        ),
        "the newsledger.article.revised event",
        log=served.log,
    )
    assert revised[0].payload["revision"] == 2

    def watched() -> float | None:
        rows = served.query("SELECT watch_factor FROM tracked_urls WHERE url = $u", {"u": url})
        return rows[0][0] if rows and rows[0][0] > 1.0 else None

    # watch-article: factor = step ** (revision - 1), capped
    assert wait_for(watched, "watch-article to raise the watch factor", log=served.log) == 2.0


def test_two_flow_runs_write_one_ledger_and_lose_nothing(served: Served, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    folders = []
    for label in ("a", "b"):
        folder = tmp_path / label
        folder.mkdir()
        for i in range(25):
            (folder / f"{label}{i:02d}.txt").write_text(
                f"Story {label}{i}. The council met on Tuesday about item {label}{i}.\n\n"
                f"A second paragraph about {label}{i}, with words.\n"
            )
        # the same story (same identity, same text) in both folders: stored exactly once
        (folder / "shared.txt").write_text("A shared story.\n\nBoth runs see it.\n")
        folders.append(folder)

    with client(served.server) as c, suppress(ObjectNotFound):  # created again on first use
        c.delete_global_concurrency_limit_by_name(WRITE_LIMIT)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: served.server.api_url}):
        runs = [
            run_deployment(
                "ingest-files/ingest-files",
                parameters={"paths": [str(folder)], "db": str(served.ledger)},
                timeout=0,
            )
            for folder in folders
        ]

    def finished() -> list[Any] | None:
        with client(served.server) as c:
            states = [c.read_flow_run(run.id).state for run in runs]
        return states if all(s is not None and s.is_final() for s in states) else None

    states = wait_for(finished, "both ingest-files runs to finish", log=served.log)
    assert [s.type.value for s in states] == ["COMPLETED", "COMPLETED"]

    revisions = served.query(
        "SELECT a.identity, count(*) FROM revisions r JOIN articles a USING (article_id) "
        "WHERE a.identity LIKE 'file:%' GROUP BY ALL"
    )
    assert len(revisions) == 51  # 25 + 25 + the shared story
    assert {count for _, count in revisions} == {1}
    runs_rows = served.query(
        "SELECT status, new_count, unchanged_count, failed_count FROM ingest_runs "
        "WHERE flow = 'ingest_files' ORDER BY started_at"
    )
    assert [r[0] for r in runs_rows] == ["completed", "completed"]
    assert sum(r[1] for r in runs_rows) == 51
    assert sum(r[2] for r in runs_rows) == 1
    assert sum(r[3] for r in runs_rows) == 0
    observed = served.query(
        "SELECT count(*) FROM observations WHERE identity LIKE 'file:%' AND outcome <> 'failed'"
    )
    assert observed == [(52,)]

    with client(served.server) as c:
        limit = c.read_global_concurrency_limit_by_name(WRITE_LIMIT)
    assert (limit.limit, limit.active_slots) == (1, 0)


def test_setup_prefect_creates_the_limit_and_the_work_pool(served: Served) -> None:
    first = served.cli("setup-prefect")
    assert first.returncode == 0, first.stderr
    assert "newsledger-ledger-writes" in first.stdout
    again = served.cli("setup-prefect")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already there") == 2
    with client(served.server) as c:
        pool = c.read_work_pool("newsledger")
    assert pool.type == "process"


def test_prefect_commands_need_a_server(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api"
    for command in (["submit", "http://127.0.0.1:9/x.html"], ["serve"], ["setup-prefect"]):
        result = subprocess.run(
            [sys.executable, "-m", "newsledger.flows.cli", *command],
            env=clean_env(PREFECT_API_URL=closed, NEWSLEDGER_PREFECT_HOME=str(tmp_path / "p")),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "no Prefect server answers" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "newsledger.flows.cli", "submit", "http://127.0.0.1:9/x.html"],
        env=clean_env(NEWSLEDGER_PREFECT_HOME=str(tmp_path / "p")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "needs a Prefect server" in result.stderr


# --- prefect.yaml -------------------------------------------------------------------------------

DEPLOYMENTS = {
    "poll-feeds",
    "refresh-articles",
    "ingest-urls",
    "watch-article",
    "ingest-files",
    "reprocess",
    "retry-failures",
    "export-parquet",
}


def fire_times(cron: str, count: int = 5) -> list[Any]:
    from datetime import datetime

    from cronsim import CronSim

    times = CronSim(cron, datetime(2025, 1, 1))
    return [next(times) for _ in range(count)]


def test_prefect_yaml_deployments_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded the way `prefect deploy` loads it: every flow has a deployment whose entrypoint
    loads, whose parameters are the flow's, on the `newsledger` pool; schedules and triggers."""
    from datetime import timedelta

    from prefect.cli.deploy._config import _load_deploy_configs_and_actions
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.cli.deploy._triggers import _initialize_deployment_triggers
    from prefect.flows import load_flow_from_entrypoint
    from rich.console import Console

    monkeypatch.chdir(REPO_ROOT)
    configs, actions = _load_deploy_configs_and_actions(
        REPO_ROOT / "prefect.yaml", console=Console(stderr=True)
    )
    by_name = {config["name"]: config for config in configs}
    assert set(by_name) == DEPLOYMENTS

    for name, config in by_name.items():
        flow = load_flow_from_entrypoint(config["entrypoint"])
        assert flow.name == name
        assert set(config["parameters"]) <= set(flow.parameters.properties), name
        assert config["work_pool"]["name"] == "newsledger"
        assert config["description"] and "newsledger" in config["tags"]

    schedules = {
        name: [_schedule_config_to_deployment_schedule(s)["schedule"] for s in c["schedules"]]
        for name, c in by_name.items()
        if c.get("schedules")
    }
    assert set(schedules) == {"poll-feeds", "refresh-articles", "export-parquet"}
    for name, every in (
        ("poll-feeds", timedelta(minutes=15)),
        ("refresh-articles", timedelta(hours=1)),
        ("export-parquet", timedelta(days=1)),
    ):
        (schedule,) = schedules[name]
        times = fire_times(schedule.cron)
        assert {b - a for a, b in itertools.pairwise(times)} == {every}

    triggers = {
        name: _initialize_deployment_triggers(name, c["triggers"])
        for name, c in by_name.items()
        if c.get("triggers")
    }
    assert set(triggers) == {"ingest-urls", "watch-article"}
    (submitted,) = triggers["ingest-urls"]
    assert submitted.expect == {"newsledger.url.submitted"}
    assert submitted.parameters == {"urls": ["{{ event.payload.url }}"]}
    (revised,) = triggers["watch-article"]
    assert revised.expect == {"newsledger.article.revised"}
    assert revised.parameters is not None
    assert revised.parameters["article_id"] == "{{ event.payload.article_id }}"

    # the flow runs start in the checkout `prefect deploy` ran in, wherever it was cloned
    (build,) = actions["build"]
    assert build["prefect.deployments.steps.run_shell_script"]["script"] == "pwd"
    (pull,) = actions["pull"]
    assert pull == {
        "prefect.deployments.steps.set_working_directory": {"directory": "{{ checkout.stdout }}"}
    }


def test_serve_builds_the_same_deployments_as_prefect_yaml() -> None:
    """`newsledger serve` reads prefect.yaml: same names, schedules, triggers and parameters."""
    import yaml
    from newsledger.flows.serve import build_deployments

    declared = {
        d["name"]: d
        for d in yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())["deployments"]
    }
    built = {d.name: d for d in build_deployments(REPO_ROOT / "prefect.yaml")}
    assert set(built) == DEPLOYMENTS
    for name, deployment in built.items():
        spec = declared[name]
        assert deployment.entrypoint and deployment.entrypoint.startswith("newsledger.flows.")
        assert deployment.parameters == spec["parameters"]
        assert deployment.tags == spec["tags"]
        assert deployment.description == spec["description"]
        assert [s.schedule.cron for s in deployment.schedules] == [  # type: ignore[union-attr]
            s["cron"] for s in spec.get("schedules", [])
        ]
        assert [(t.expect, t.parameters) for t in deployment.triggers] == [  # type: ignore[union-attr]
            (set(t["expect"]), t["parameters"]) for t in spec.get("triggers", [])
        ]


def test_an_event_cannot_choose_the_ledger(
    served: Served, site: FixtureSite, tmp_path: Path
) -> None:
    """watch-article writes the served ledger (NEWSLEDGER_DB of serve), whatever file a
    newsledger.article.revised event's payload names."""
    from newsledger.flows.serve import send_events
    from newsledger.tasks.events import ARTICLE_REVISED, EventSpec, article_resource

    site.set_page("/news/ledger.html", story("Ledger choice", 1))
    url = site.url("/news/ledger.html")
    submit(served, url)
    article_id, _ = wait_for(lambda: latest(served, url), f"{url} in the ledger", log=served.log)
    other = tmp_path / "chosen-by-the-event.duckdb"
    event = EventSpec(
        ARTICLE_REVISED,
        article_resource(article_id),
        {"article_id": article_id, "revision": 2, "ledger": str(other)},
    )
    send_events(served.server.api_url, [event])

    def watched() -> float | None:
        rows = served.query("SELECT watch_factor FROM tracked_urls WHERE url = $u", {"u": url})
        return rows[0][0] if rows and rows[0][0] > 1.0 else None

    assert wait_for(watched, "watch-article on the served ledger", log=served.log) == 2.0
    assert not other.exists()


def test_ctrl_c_on_serve_ends_in_flight_runs(
    prefect_server: Server, site: FixtureSite, tmp_path: Path
) -> None:
    """SIGINT to serve's process group (Ctrl+C in a terminal) while a run fetches a slow page:
    the run ends in a final state and no process of serve's session survives."""
    import yaml
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    spec = next(
        d
        for d in yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())["deployments"]
        if d["name"] == "ingest-urls"
    )
    spec = {**spec, "name": "ingest-urls-ctrl-c", "triggers": [], "schedules": []}
    config = tmp_path / "prefect.yaml"
    config.write_text(yaml.safe_dump({"deployments": [spec]}))
    env = clean_env(
        PREFECT_API_URL=prefect_server.api_url,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        NEWSLEDGER_PREFECT_HOME=str(tmp_path / "prefect-home"),
        NEWSLEDGER_DB=str(tmp_path / "ledger.duckdb"),
        NEWSLEDGER_ALLOWED_HOSTS="127.0.0.1",
        NEWSLEDGER_PER_HOST_DELAY_SECONDS="0",
    )
    site.set_page("/news/slow.html", story("Slow", 1), delay_seconds=15)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsledger.flows.cli", "serve", "--config", str(config)],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: "Your deployments are being served" in log.read_text(errors="replace"),
            "serve to start",
            log=log,
        )
        with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
            run = run_deployment(
                "ingest-urls/ingest-urls-ctrl-c",
                parameters={"urls": [site.url("/news/slow.html")]},
                timeout=0,
            )
        wait_for(
            lambda: site.count("/news/slow.html") > 0, "the run to fetch the slow page", log=log
        )
        engines = flow_run_processes(process.pid)
        assert engines, session_processes(process.pid)

        # Ctrl+C in serve's terminal signals its whole process group, in no set order. A
        # flow-run process that acts on it races serve's graceful stop, and at some moments
        # Prefect's task engine turns the interrupt into "Task run is not set" and the run ends
        # FAILED: the flow-run process leaves SIGINT to serve, so on its own it changes nothing.
        os.kill(int(engines[0].split()[0]), signal.SIGINT)
        with client(prefect_server) as c:
            for _ in range(10):
                time.sleep(0.4)
                assert c.read_flow_run(run.id).state.type == StateType.RUNNING
        assert engines[0] in session_processes(process.pid)

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl+C in serve's terminal does

        def final() -> Any:
            with client(prefect_server) as c:
                state = c.read_flow_run(run.id).state
            return state if state is not None and state.is_final() else None

        state = wait_for(final, "the in-flight run to reach a final state", log=log)
        assert state.type in {StateType.CANCELLED, StateType.CRASHED}
        wait_for(lambda: process.poll() is not None, "serve to exit", log=log)
        wait_for(
            lambda: not session_processes(process.pid) or None,
            "every process of serve's session to end",
            log=log,
        )
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_killed_writer_does_not_hold_the_write_slot(
    prefect_server: Server, tmp_path: Path
) -> None:
    """kill -9 of a writer holding the slot (leased for 600 s): the next writer gets the slot
    while the dead one's lease is still unexpired."""
    limit_name = "newsledger-killed-writer-test"
    env = clean_env(
        PREFECT_API_URL=prefect_server.api_url,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        NEWSLEDGER_DB=str(tmp_path / "ledger.duckdb"),
        NEWSLEDGER_WRITE_LIMIT=limit_name,
        NEWSLEDGER_WRITE_LEASE_SECONDS="600",
        NEWSLEDGER_WRITE_SLOT_TIMEOUT_SECONDS="300",
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", SLOT_WRITER, "600"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with client(prefect_server) as c:
            assert c.read_global_concurrency_limit_by_name(limit_name).active_slots == 1
        holder.kill()
        holder.wait()
        second = subprocess.run(
            [sys.executable, "-c", SLOT_WRITER, "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=200,
        )
        assert second.returncode == 0, second.stderr
        assert second.stdout.split() == ["holding", "wrote"]
        with client(prefect_server) as c:
            assert c.read_global_concurrency_limit_by_name(limit_name).active_slots == 0
    finally:
        with suppress(ProcessLookupError):
            os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
