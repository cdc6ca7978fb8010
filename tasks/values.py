"""Small value helpers every module uses the same way: the current time (UTC), a SQL string
literal, the JSON form of the values newsledger stores and prints, and the shape of a
language tag."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

# A language tag as pages and feeds.yaml give one (``en``, ``pt-BR``, ``zh_Hant``): its first
# group is the ISO 639 code. Matched whole (``fullmatch``).
LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC (every time the ledger stores is UTC)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An instant in UTC: DuckDB hands TIMESTAMPTZ values over in the local time zone. A naive
    value (a plain TIMESTAMP of a user's query) is kept as it is."""
    return value.astimezone(UTC) if value.tzinfo is not None else value


def sql_string(value: str) -> str:
    """``value`` as a SQL string literal (for the few statements that take no parameters,
    e.g. ``COPY … TO 'file'`` and ``LOAD 'path'``)."""
    return "'" + value.replace("'", "''") + "'"


def json_default(value: Any) -> Any:
    """The ``default=`` of ``json.dumps`` for ledger values: times in ISO 8601 (instants in
    UTC), tuples and sets as lists, bytes as hex, anything else (Decimal, UUID, interval) as
    its text."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
