"""Rendering what commands print: rows as JSON Lines, a JSON array or CSV (one renderer for
every command; tables are drawn by each command), and times as the tables show them (UTC)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from newsledger.tasks.values import as_utc, json_default


def render_rows(
    names: Sequence[str], rows: Iterable[Sequence[Any]], output_format: str = "jsonl"
) -> None:
    """Write ``rows`` (named by ``names``) to stdout, a row at a time: ``jsonl`` one JSON
    object per line (what ``--json`` prints), ``json`` one array of objects, ``csv`` a header
    and one line per row (Unix line ends; lists and structs as JSON, NULL as an empty cell).
    Times are ISO 8601 in UTC everywhere."""
    if output_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_cell(value) for value in row])
        return
    render_records((dict(zip(names, row, strict=True)) for row in rows), output_format)


def render_records(records: Iterable[dict[str, Any]], output_format: str = "jsonl") -> None:
    """Records as JSON Lines (``jsonl``) or as one JSON array (``json``: the text of
    ``json.dumps(records, indent=2)``, written a record at a time)."""
    if output_format == "jsonl":
        for record in records:
            json_line(record)
        return
    separator = "[\n"
    for record in records:
        text = json.dumps(record, default=json_default, ensure_ascii=False, indent=2)
        sys.stdout.write(separator + "  " + text.replace("\n", "\n  "))
        separator = ",\n"
    sys.stdout.write("[]\n" if separator == "[\n" else "\n]\n")


def json_line(record: Any) -> None:
    sys.stdout.write(json.dumps(record, default=json_default, ensure_ascii=False) + "\n")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=json_default, ensure_ascii=False)
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def utc_time(value: datetime) -> str:
    """A time as the tables show it: UTC, to the second (columns say "(UTC)")."""
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S")
