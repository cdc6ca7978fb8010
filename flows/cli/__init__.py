"""The ``newsledger`` command line: a thin layer over plain functions and Prefect flows.

Fast path: commands import neither Prefect nor trafilatura unless they need them (see
``flows/runtime.py`` for when a command becomes a Prefect flow run).

Conventions: ``--db`` before or after the command; ``--json`` prints one JSON object per line;
times are shown in UTC; exit status 0 on success, 1 when something failed at run time (an
input, the query, a missing ledger), 2 for a usage error (a bad command line).

- ``app``: the Typer app, common options, the consoles of an invocation, ``main``;
- ``render``: one renderer of rows (JSON Lines, JSON, CSV) and of times;
- ``jobs``: the pipeline commands and their job runner (Prefect flow run or in-process);
- ``stories``: ``failures``, ``history``, ``diff``;
- ``sql``: ``newsledger sql``;
- ``orchestration``: ``serve``, ``submit``, ``setup-prefect``, ``watch``;
- ``query``: ``search``, ``index``, ``export``, ``stats``, ``web``.
"""

# The command modules register their commands on ``app`` as they are imported, in this order
# (the order of ``newsledger --help``).
# isort: off
from newsledger.flows.cli import jobs, stories, sql, orchestration, query  # noqa: F401
from newsledger.flows.cli.app import app, main

# isort: on

__all__ = ["app", "main"]
