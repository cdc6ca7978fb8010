"""Flow: ingest local files, folders and globs into the revision ledger."""

from __future__ import annotations

from typing import Any

from newsledger.tasks.pipeline import run_file_ingest
from newsledger.tasks.prefect_tasks import FILE_INGEST_TASKS, flow_run_context, report
from newsledger.tasks.settings import Settings
from prefect import flow


@flow(name="ingest-files", description="Ingest local article files (text or HTML) into DuckDB.")
def ingest_files(paths: list[str], db: str | None = None) -> dict[str, Any]:
    settings = Settings(db=db) if db else Settings()
    return report(
        run_file_ingest(paths, settings, steps=FILE_INGEST_TASKS, context=flow_run_context())
    )
