"""Flow: watch a revised story more closely (triggered by ``newsledger.article.revised``)."""

from __future__ import annotations

from typing import Any

from newsledger.tasks.prefect_tasks import report_watch, watch_article_task
from newsledger.tasks.settings import Settings
from prefect import flow


@flow(
    name="watch-article",
    description="Raise a revised story's watch factor so it is revisited sooner.",
)
def watch_article(article_id: str, revision: int | None = None) -> dict[str, Any]:
    # The ledger is the worker's own (NEWSLEDGER_DB), never a parameter: an event's payload
    # templates the parameters, and must not choose which file a worker writes.
    settings = Settings()
    return report_watch(watch_article_task(settings, article_id, revision))
