"""Flow: export the revisions not yet exported as partitioned Parquet (for a warehouse)."""

from __future__ import annotations

from typing import Any

from newsledger.tasks.prefect_tasks import export_parquet_task
from newsledger.tasks.settings import Settings
from prefect import flow


@flow(
    name="export-parquet",
    description="Write every revision not yet exported to a partitioned Parquet folder.",
)
def export_parquet(
    output: str = "data/parquet",
    partition_by: str = "outlet,day",
    everything: bool = False,
    db: str | None = None,
) -> dict[str, Any]:
    return export_parquet_task(
        Settings(db=db) if db else Settings(), output, partition_by, everything
    )
