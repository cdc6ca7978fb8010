"""The read-only web application (Starlette + Jinja2): pages of stories and their diffs,
headline changes, failures and statistics, each with a JSON twin under ``/api/``, and Atom
feeds of revisions.

Safe by construction: templates autoescape everything (stored text is hostile input), links
to stored URLs are kept only for http(s), no page runs a script (a Content-Security-Policy
without any script source backs that up), and request values reach DuckDB only as bound
parameters of fixed statements. Each request opens and closes its own read-only connection.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from newsledger.tasks.diff import DiffPiece
from newsledger.tasks.errors import StoreError
from newsledger.tasks.ledger import ArticleNotFoundError
from newsledger.tasks.search import SearchError
from newsledger.tasks.settings import Settings
from newsledger.tasks.webview import queries
from newsledger.tasks.webview.atom import FeedInfo, build_feed, entry_title, rfc3339
from newsledger.tasks.webview.charts import stacked_bars
from newsledger.tasks.webview.diffs import StoryDiff
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
ATOM_TYPE = "application/atom+xml; charset=utf-8"


# --- values for JSON and templates -----------------------------------------------------------


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, StoryDiff):
        return jsonable(value.as_dict())
    if isinstance(value, DiffPiece):
        return {"kind": value.kind, "text": value.text}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "is_integer") and not isinstance(value, int | float):  # Decimal
        return float(value)
    return value


def safe_url(value: Any) -> str | None:
    """A stored URL fit for an ``href``: http(s) only (no ``javascript:``, ``data:`` …)."""
    text = str(value or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else None


def highlight(text: str | None, words: list[str] | None) -> Markup:
    """``text`` escaped, with the given words wrapped in ``<mark>``."""
    wanted = set(words or [])
    parts = [
        Markup("<mark>{}</mark>").format(word) if word in wanted else escape(word)
        for word in (text or "").split(" ")
    ]
    return Markup(" ").join(parts)


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "—" if value is None else str(value)


def path_quote(value: str) -> str:
    return quote(value, safe="")


# --- request values ------------------------------------------------------------------------


def _int(request: Request, name: str, default: int, low: int = 1, high: int = 10**6) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}")
    return value


def _optional_int(request: Request, name: str) -> int | None:
    if request.query_params.get(name) in (None, ""):
        return None
    return _int(request, name, 1)


def _text(request: Request, name: str) -> str | None:
    value = (request.query_params.get(name) or "").strip()
    return value[:500] or None


def _hours(request: Request) -> float | None:
    raw = request.query_params.get("hours")
    if raw in (None, ""):
        return None
    try:
        hours = float(raw)
    except ValueError:
        raise HTTPException(400, "hours must be a number") from None
    if not 0 < hours <= 24 * 365 * 100:
        raise HTTPException(400, "hours must be positive")
    return hours


def _flag(request: Request, name: str) -> bool:
    return (request.query_params.get(name) or "").lower() in ("1", "true", "on", "yes")


def story_filter(request: Request) -> queries.StoryFilter:
    return queries.StoryFilter(
        outlet=_text(request, "outlet"),
        language=_text(request, "language"),
        hours=_hours(request),
        headline_changed=_flag(request, "headline_changed"),
        q=_text(request, "q"),
        page=_int(request, "page", 1),
        per_page=_int(request, "per_page", 50, 1, queries.MAX_PER_PAGE),
    )


def with_page(request: Request, page: int) -> str:
    params = dict(request.query_params)
    params["page"] = str(page)
    return f"{request.url.path}?{urlencode(params)}"


class SecurityHeaders:
    """ASGI middleware: every response forbids scripts, framing and MIME sniffing."""

    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- the application -----------------------------------------------------------------------


def create_app(settings: Settings) -> Starlette:
    """The web view of the ledger at ``settings.db`` (read-only)."""
    # Autoescape every template (stored titles, bylines and texts are hostile input).
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined
    )
    templates = Jinja2Templates(env=env)
    env.filters.update(
        when=when, safe_url=safe_url, highlight=highlight, path_quote=path_quote, rfc3339=rfc3339
    )
    env.globals["ledger_name"] = settings.db.name

    def page(
        path: str, name: str, template: str, build: Callable[[Request], dict[str, Any]]
    ) -> list[BaseRoute]:
        """A page and its JSON twin (``/api`` + path) from one builder."""

        def html(request: Request) -> Response:
            data = build(request)
            return templates.TemplateResponse(
                request, template, {"data": data, "request": request, "with_page": with_page}
            )

        def api(request: Request) -> Response:
            return JSONResponse(jsonable(build(request)))

        return [Route(path, html, name=name), Route("/api" + path, api, name=f"api_{name}")]

    def stories(request: Request) -> dict[str, Any]:
        return queries.list_stories(settings, story_filter(request))

    def story(request: Request) -> dict[str, Any]:
        data = queries.story(
            settings,
            request.path_params["article_id"],
            _optional_int(request, "from"),
            _optional_int(request, "to"),
        )
        data["view"] = "side" if request.query_params.get("view") == "side" else "inline"
        return data

    def story_diff(request: Request) -> dict[str, Any]:
        data = queries.story(
            settings,
            request.path_params["article_id"],
            int(request.path_params["a"]),
            int(request.path_params["b"]),
        )
        data["view"] = "side" if request.query_params.get("view") == "side" else "inline"
        return data

    def headlines(request: Request) -> dict[str, Any]:
        return queries.headline_changes(
            settings,
            _text(request, "outlet"),
            _int(request, "page", 1),
            _int(request, "per_page", 50, 1, queries.MAX_PER_PAGE),
        )

    def failures(request: Request) -> dict[str, Any]:
        return queries.failures(settings, _int(request, "limit", 200, 1, 10_000))

    def stats(request: Request) -> dict[str, Any]:
        data = queries.stats(
            settings, days=_int(request, "days", 30, 1, 3650), top=_int(request, "top", 10, 1, 500)
        )
        data["charts"] = [
            stacked_bars("Revisions per day (UTC)", data["revisions_per_day"], "day"),
            stacked_bars("Revisions per outlet", data["revisions_per_outlet"][:20], "outlet"),
        ]
        return data

    # --- feeds -----------------------------------------------------------------------------

    def feed_response(
        request: Request, info: FeedInfo, entries: list[queries.FeedEntry]
    ) -> Response:
        base = str(request.base_url).rstrip("/")
        entry_template = env.get_template("feed_entry.html")

        def entry_url(entry: queries.FeedEntry) -> str:
            previous = max(entry.revision - 1, 1)
            return f"{base}/story/{entry.article_id}/diff/{previous}/{entry.revision}"

        def entry_html(entry: queries.FeedEntry) -> str:
            return entry_template.render(
                entry=entry, title=entry_title(entry), url=entry_url(entry), base=base
            )

        body = build_feed(info, entries, entry_url=entry_url, entry_html=entry_html)
        return Response(body, media_type=ATOM_TYPE)

    def feed_all(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        limit = _int(request, "limit", 50, 1, 500)
        info = FeedInfo(
            "urn:newsledger:feed:all", "newsledger: every revision", str(request.url), base + "/"
        )
        return feed_response(request, info, queries.feed_entries(settings, limit=limit))

    def feed_outlet(request: Request) -> Response:
        outlet = request.path_params["outlet"].removesuffix(".atom")
        base = str(request.base_url).rstrip("/")
        info = FeedInfo(
            f"urn:newsledger:feed:outlet:{quote(outlet, safe='')}",
            f"newsledger: revisions of {outlet}",
            str(request.url),
            f"{base}/?{urlencode({'outlet': outlet})}",
        )
        limit = _int(request, "limit", 50, 1, 500)
        return feed_response(
            request, info, queries.feed_entries(settings, outlet=outlet, limit=limit)
        )

    def feed_story(request: Request) -> Response:
        reference = request.path_params["article_id"].removesuffix(".atom")
        entries = queries.feed_entries(
            settings, article_id=reference, limit=_int(request, "limit", 50, 1, 500)
        )
        base = str(request.base_url).rstrip("/")
        article_id = entries[0].article_id if entries else reference
        title = (entries[0].title if entries else None) or reference
        info = FeedInfo(
            f"urn:newsledger:feed:story:{article_id}",
            f"newsledger: {title}",
            str(request.url),
            f"{base}/story/{article_id}",
        )
        return feed_response(request, info, entries)

    def feed_search(request: Request) -> Response:
        q = _text(request, "q")
        if not q:
            raise HTTPException(400, "give a search: /feeds/search.atom?q=words")
        base = str(request.base_url).rstrip("/")
        info = FeedInfo(
            f"urn:newsledger:feed:search:{quote(q, safe='')}",
            f"newsledger: stories matching {q}",
            str(request.url),
            f"{base}/?{urlencode({'q': q})}",
        )
        limit = _int(request, "limit", 50, 1, 500)
        return feed_response(request, info, queries.feed_entries(settings, q=q, limit=limit))

    def home(request: Request) -> Response:
        return RedirectResponse("/stories", status_code=307)

    routes: list[BaseRoute] = [
        Route("/", home),
        *page("/stories", "stories", "stories.html", stories),
        *page("/story/{article_id}", "story", "story.html", story),
        *page("/story/{article_id}/diff/{a:int}/{b:int}", "story_diff", "story.html", story_diff),
        *page("/headlines", "headlines", "headlines.html", headlines),
        *page("/failures", "failures", "failures.html", failures),
        *page("/stats", "stats", "stats.html", stats),
        Route("/feeds/all.atom", feed_all, name="feed_all"),
        Route("/feeds/search.atom", feed_search, name="feed_search"),
        Route("/feeds/outlet/{outlet:path}", feed_outlet, name="feed_outlet"),
        Route("/feeds/story/{article_id}", feed_story, name="feed_story"),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

    def error(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith(("/api/", "/feeds/")):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"request": request, "status": status, "message": message},
            status_code=status,
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(request, exc.status_code, str(exc.detail))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(request, 404, str(exc))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return error(request, 400, str(exc))

    async def unavailable(request: Request, exc: Exception) -> Response:
        return error(request, 503, str(exc))

    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            HTTPException: http_error,
            ArticleNotFoundError: not_found,
            SearchError: bad_request,
            StoreError: unavailable,
        },
    )

    return app


__all__ = ["create_app", "highlight", "jsonable", "safe_url"]
