"""``newsledger export --format warc``: the records of a selection (a story, a time range)
copied, compressed bytes as they are, from the archive folder into one new ``.warc.gz``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from newsledger.tasks import store
from newsledger.tasks.archive.records import gzip_member, read_member, warcinfo_record
from newsledger.tasks.errors import UsageError
from newsledger.tasks.ledger import resolve_article
from newsledger.tasks.settings import Settings


@dataclass(frozen=True)
class WarcExport:
    output: Path
    fetches: int
    exchanges: int
    missing: int  # exchanges whose file is no longer in the archive folder


def export_warc(
    settings: Settings,
    output: Path,
    *,
    story: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    force: bool = False,
) -> WarcExport:
    """Write the request and response records of every selected fetch (all its exchanges:
    retries and redirect hops too) to ``output``, after a ``warcinfo`` record."""
    if output.exists() and not force:
        raise UsageError(f"{output} exists: give --force to replace it")
    folder = settings.warc_folder
    with store.open_writer(settings) as conn:
        article_id = resolve_article(conn, story).article_id if story else None
        rows = conn.execute(
            store.sql("warc_export_fetches"),
            {"article_id": article_id, "since": since, "until": until},
        ).fetchall()
    partial = output.with_name(output.name + ".partial")
    exchanges = missing = 0
    with partial.open("wb") as out:
        out.write(gzip_member(warcinfo_record(output.name, settings.user_agent)))
        for _fetch_id, _fetched_at, located in rows:
            for location in json.loads(located):
                path = folder / location["file"]
                if not path.exists():
                    missing += 1
                    continue
                start = location["request_offset"]
                out.write(read_member(path, start, location["offset"] + location["length"] - start))
                exchanges += 1
        out.flush()
        os.fsync(out.fileno())
    partial.replace(output)
    return WarcExport(output, len(rows), exchanges, missing)
