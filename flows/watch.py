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
def watch_article(
    article_id: str, revision: int | None = None, db: str | None = None
) -> dict[str, Any]:
    settings = Settings(db=db) if db else Settings()
    return report_watch(watch_article_task(settings, article_id, revision))
