"""Issue 15 item 1: the WARC archive of every exchange of the web path.

Real fixture server on 127.0.0.1, real ledgers, warcio's own checker and indexer as the
judges, and a real ``kill -9`` of a real writer process for the torn-record guarantee."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fixture_site import FixtureSite
from newsledger.tasks.archive import complete_length, read_record_at, recover_folder
from newsledger.tasks.archive.export import export_warc
from newsledger.tasks.archive.rebuild import run_rebuild_from_warc
from newsledger.tasks.crawl import run_url_ingest
from test_web import article_html, rows, web_settings

WARCIO = Path(sys.executable).with_name("warcio")


def warcio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WARCIO), *args], capture_output=True, text=True, timeout=60)


def index(files: list[Path]) -> list[dict[str, str]]:
    result = warcio("index", "-f", "warc-type,warc-target-uri,offset,length", *map(str, files))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_exchange_is_archived_valid_located_rebuildable_and_exportable(
    site: FixtureSite, tmp_path: Path
) -> None:
    settings = web_settings(tmp_path, warc_max_file_mb=0.004)  # ~4 KB: several files
    site.set_page("/a.html", article_html("Alpha story"))
    site.set_page("/b.html", article_html("Beta story"))
    site.add_redirect("/moved", "/b.html")
    urls = [site.url("/a.html"), site.url("/moved")]
    run_url_ingest(urls, settings)
    run_url_ingest(urls, settings)  # conditional: 304s, revisit records
    site.set_page("/a.html", article_html("Alpha story", "Updated with a correction."))
    run_url_ingest(urls, settings)  # a new revision of /a.html

    files = sorted(settings.warc_folder.glob("*.warc.gz"))
    assert len(files) > 1, "rotation by size"
    check = warcio("check", "-v", *map(str, files))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout
    records = index(files)
    kinds = [r["warc-type"] for r in records]
    assert kinds.count("warcinfo") == len(files)
    assert kinds.count("request") == kinds.count("response") + kinds.count("revisit")
    assert kinds.count("revisit") >= 2  # the second run's 304s
    targets = {r.get("warc-target-uri") for r in records}
    assert {site.url("/robots.txt"), site.url("/moved"), site.url("/b.html")} <= targets

    # every fetch row points at its answer's record; the redirect hop is listed before it
    fetches = rows(
        settings,
        "SELECT url, status, warc_file, warc_offset, warc_length, warc_exchanges "
        "FROM fetches ORDER BY fetch_id",
    )
    assert len(fetches) == 6 and all(f[2] is not None for f in fetches)
    for url, status, file, offset, length, exchanges in fetches:
        record = read_record_at(settings.warc_folder, file, offset, length)
        assert record.rec_type == ("revisit" if status == 304 else "response")
        assert int(record.http_headers.get_statuscode()) == status
        assert record.rec_headers.get_header("Newsledger-Requested-URI") == url
        hops = json.loads(exchanges)
        assert len(hops) == (2 if url.endswith("/moved") else 1)
    first = read_record_at(settings.warc_folder, *fetches[0][2:5])
    assert first.raw == article_html("Alpha story").encode()  # the body exactly as sent

    # revisions rebuilt from the WARC files alone, into a new ledger
    rebuilt = web_settings(tmp_path / "rebuilt", warc_enabled=False)
    summary = run_rebuild_from_warc(rebuilt, settings.warc_folder)
    assert summary.failed == 0
    original = rows(
        settings,
        "SELECT a.identity, count(*) FROM revisions r JOIN articles a USING (article_id) "
        "GROUP BY 1 ORDER BY 1",
    )
    again = rows(
        rebuilt,
        "SELECT a.identity, count(*) FROM revisions r JOIN articles a USING (article_id) "
        "GROUP BY 1 ORDER BY 1",
    )
    assert again == original and dict(original)[urls[0]] == 2

    # the archive of one story
    out = tmp_path / "alpha.warc.gz"
    result = export_warc(settings, out, story=urls[0])
    assert result.fetches == 3 and result.exchanges == 3 and result.missing == 0
    assert warcio("check", str(out)).returncode == 0
    exported = index([out])
    assert [r["warc-type"] for r in exported] == [
        "warcinfo",
        "request",
        "response",
        "request",
        "revisit",
        "request",
        "response",
    ]


def test_archiving_off_writes_nothing(site: FixtureSite, tmp_path: Path) -> None:
    settings = web_settings(tmp_path, warc_enabled=False)
    site.set_page("/a.html", article_html("Alpha story"))
    run_url_ingest([site.url("/a.html")], settings)
    assert not settings.warc_folder.exists()
    assert rows(settings, "SELECT count(*) FROM fetches WHERE warc_file IS NOT NULL") == [(0,)]


WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from newsledger.tasks.archive import Exchange, WarcWriter
    writer = WarcWriter(Path(sys.argv[1]), 1 << 40, software="test")
    body = os.urandom(4 << 20)  # incompressible: each record is a slow, large write
    n = 0
    while True:
        response = b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body
        writer.write(Exchange("http://x/%d" % n, "http://x/%d" % n, "html", time.time(),
                              "127.0.0.1", b"GET / HTTP/1.1\\r\\n\\r\\n", response))
        n += 1
        if n == 2:
            print("writing", flush=True)
    """
)


@pytest.mark.slow
def test_a_record_torn_by_kill_9_is_trimmed_at_the_next_open(tmp_path: Path) -> None:
    folder = tmp_path / "warc"
    shim = Path(__file__).parent / "shim"
    torn_seen = 0
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(shim)},
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"writing\n"
        time.sleep(0.05 + 0.07 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        (path,) = [p for p in folder.glob("*.warc.gz") if (folder / (p.name + ".open")).exists()]
        size = path.stat().st_size
        if complete_length(path) < size:
            torn_seen += 1
        else:  # the kill fell between two writes: tear the last record as a crash would
            os.truncate(path, size - 1000)
            torn_seen += 1
        trimmed = recover_folder(folder)  # what the next writer's open does
        assert trimmed[path.name] > 0
        assert not (folder / (path.name + ".open")).exists()
        assert complete_length(path) == path.stat().st_size
    files = sorted(folder.glob("*.warc.gz"))
    check = warcio("check", *map(str, files))
    assert check.returncode == 0, check.stdout + check.stderr
    records = index(files)
    assert records and all(r["warc-type"] in ("warcinfo", "request", "response") for r in records)
    assert torn_seen == 3
