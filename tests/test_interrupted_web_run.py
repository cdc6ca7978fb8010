"""Ctrl+C and SIGTERM of a real ``newsledger poll`` mid-flight (pages still being fetched from
slow hosts, a page in the extraction workers, ``NEWSLEDGER_EXTRACT_WORKERS=2``): no process of
the run's session is left behind (checked in /proc), the run is recorded as failed rather than
left running, and the next poll stores everything. Real CLI processes, the real fixture HTTP
server, a real DuckDB file."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from fixture_site import FixtureSite
from processes import session_processes
from test_extraction_pool import CLI, endless_page, good_page, pool_workers, rows, wait_for

pytestmark = pytest.mark.slow

SLOW_PAGES = 4


def serve(site: FixtureSite, *, slow: bool) -> None:
    """A feed of one pathological page (keeps a worker busy for tens of seconds) and of
    pages that answer only after 30 s (``slow``), or at once."""
    links = [site.url("/heavy.html")]
    site.set_page("/heavy.html", endless_page() if slow else good_page(99))
    for index in range(SLOW_PAGES):
        path = f"/slow/{index}.html"
        site.set_page(path, good_page(index), delay_seconds=30.0 if slow else 0.0)
        links.append(site.url(path))
    items = "".join(f"<item><title>Item</title><link>{link}</link></item>" for link in links)
    site.set_page(
        "/feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>',
        content_type="application/rss+xml",
        conditional=False,
    )


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_poll_leaves_no_process_and_the_next_poll_stores_everything(
    site: FixtureSite, tmp_path: Path, how: str
) -> None:
    serve(site, slow=True)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: T\n    url: {site.url('/feed.xml')}\n", encoding="utf-8")
    db = tmp_path / "ledger.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLEDGER_", "PREFECT_"))}
    env.update(
        {
            "NEWSLEDGER_EXTRACT_WORKERS": "2",
            "NEWSLEDGER_EXTRACT_TIMEOUT_SECONDS": "600",
            "NEWSLEDGER_EXTRACT_MAX_ELEMENTS": "0",  # the heavy page reaches trafilatura
            "NEWSLEDGER_ALLOWED_HOSTS": "127.0.0.1",
            "NEWSLEDGER_PER_HOST_DELAY_SECONDS": "0",
            "NEWSLEDGER_PER_HOST_CONCURRENCY": "8",
            "NEWSLEDGER_BATCH_MAX_AGE_SECONDS": "0.2",
            "NEWSLEDGER_READ_TIMEOUT": "60",
            "NEWSLEDGER_TOTAL_TIMEOUT": "60",
            "PREFECT_HOME": str(tmp_path / ".prefect"),
        }
    )
    poll = [*CLI, "--db", str(db), "poll", "--feeds", str(feeds), "--local"]
    cli = subprocess.Popen(
        poll,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # As from a terminal: a shell's background job would start it with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # mid-flight: both workers up (the heavy page in one of them) and the slow pages asked
        wait_for(lambda: len(pool_workers(cli.pid)) == 2, "two workers", limit=60)
        wait_for(lambda: _slow_asked(site), "slow pages asked")
        if how == "ctrl-c":  # the terminal signals the whole foreground process group
            os.killpg(cli.pid, signal.SIGINT)
        else:
            os.kill(cli.pid, signal.SIGTERM)
        _out, stderr = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode != 0
    wait_for(lambda: session_processes(cli.pid) == [], "the session to empty", limit=30)
    assert rows(db, "SELECT flow, status FROM ingest_runs") == [("poll_feeds", "failed")], (
        stderr.decode()
    )
    assert rows(db, "SELECT count(*) FROM revisions WHERE source LIKE '%/slow/%'") == [(0,)]

    # The next poll (the hosts answer now) stores every page and ends completed.
    serve(site, slow=False)
    again = subprocess.run(poll, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT status FROM ingest_runs ORDER BY started_at") == [
        ("failed",),
        ("completed",),
    ]
    assert rows(db, "SELECT count(*), count(DISTINCT article_id) FROM latest_revisions") == [
        (SLOW_PAGES + 1, SLOW_PAGES + 1)
    ]


def _slow_asked(site: FixtureSite) -> bool:
    return any(request.path.startswith("/slow/") for request in site.requests())
