"""Notifications on change: a *watch* is a Prefect automation on ``newsledger.article.revised``
that calls a Webhook block with a JSON summary of the change.

Three kinds of watch, each a filter Prefect's trigger evaluates on the event:

* ``story``: the event's resource id, ``newsledger.article.<article_id>``;
* ``outlet``: the resource label ``newsledger.outlet`` (the outlet, case-folded, spaces
  collapsed: :func:`outlet_label`), matched exactly (glob characters escaped);
* ``search``: Prefect matches labels by equality or glob, never by words in a text, so the
  search is matched *before* the event is emitted: when a revised story's new revision (title
  and text) contains every term of a watched query, analysed as ``newsledger search`` analyses
  it (the fts tokenizer, English stop words left out, Porter stems), the event carries the
  related resource ``newsledger.search.<key of the query>`` (role ``newsledger-search``), and
  the watch's trigger matches that related resource. The emitting task learns the watched
  queries from the automations themselves (their tags), so the server is the one registry.

A watch is kept wholly on the Prefect server: an automation named ``newsledger-watch-NAME``
(tags ``newsledger-watch``, ``newsledger-watch-kind:KIND``, ``newsledger-watch-value:VALUE``,
``newsledger-watch-webhook:<the URL's origin>``) and a Webhook block document of the same
name (its URL is a secret field). The CLI creates, lists and removes them with the REST API
(no ``import prefect``: :class:`PrefectRest`).

Nothing here imports Prefect.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from newsledger.tasks.errors import PrefectAPIError, UsageError
from newsledger.tasks.settings import Settings

WatchKind = Literal["story", "outlet", "search"]
KINDS: tuple[WatchKind, ...] = ("story", "outlet", "search")

WATCH_TAG = "newsledger-watch"
KIND_TAG = "newsledger-watch-kind:"
VALUE_TAG = "newsledger-watch-value:"
WEBHOOK_TAG = "newsledger-watch-webhook:"
NAME_PREFIX = "newsledger-watch-"
SEARCH_ROLE = "newsledger-search"
OUTLET_LABEL = "newsledger.outlet"
REVISED_EVENT = "newsledger.article.revised"  # events.ARTICLE_REVISED
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Watch:
    """One watch: what it follows and where it sends (the webhook's origin only: the full URL
    is a secret of its block)."""

    name: str
    kind: WatchKind
    value: str
    webhook: str = ""
    automation_id: str | None = None
    block_document_id: str | None = None
    enabled: bool = True

    @property
    def automation_name(self) -> str:
        return NAME_PREFIX + self.name


# --- names, keys and labels ---------------------------------------------------------------------


def slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:limit].strip("-") or "x"


def default_name(kind: WatchKind, value: str) -> str:
    """``story-<id prefix>``, ``outlet-<slug>`` or ``search-<slug>-<key>``."""
    if kind == "story":
        return f"story-{value[:12]}"
    if kind == "outlet":
        return f"outlet-{slug(value)}"
    return f"search-{slug(value, 30)}-{search_key(value)[:6]}"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise UsageError(
            f"a watch name is 1-63 lower-case letters, digits and dashes, not {name!r}"
        )
    return name


def normalise_query(query: str) -> str:
    return " ".join(query.split()).casefold()


def search_key(query: str) -> str:
    return hashlib.sha256(normalise_query(query).encode("utf-8")).hexdigest()[:16]


def search_resource(query: str) -> dict[str, str]:
    """The related resource an event carries when its story matches the watched ``query``."""
    return {
        "prefect.resource.id": f"newsledger.search.{search_key(query)}",
        "prefect.resource.role": SEARCH_ROLE,
        "prefect.resource.name": normalise_query(query),
    }


def outlet_label(outlet: str) -> str:
    """The value of an event's ``newsledger.outlet`` label: case-folded, spaces collapsed."""
    return " ".join(outlet.split()).casefold()


def _glob_literal(value: str) -> str:
    """``value`` as a pattern Prefect's label matching (fnmatch, ``!`` negates) takes
    literally; a leading ``!`` becomes ``?`` (any one character), the nearest literal form."""
    escaped = re.sub(r"([*?\[])", r"[\1]", value)
    return "?" + escaped[1:] if escaped.startswith("!") else escaped


def redact(url: str) -> str:
    """A webhook URL shown without its secret part: its origin, then ``/…``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "…"


def check_webhook(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--webhook must be an http(s) URL, not {url!r}")
    return url


def story_links(base_url: str | None, article_id: str, revision: int | None) -> dict[str, str]:
    """Links to the web view's story page and to the diff of this revision (when a base URL of
    ``newsledger web`` is configured)."""
    if not base_url:
        return {}
    base = base_url.rstrip("/")
    links = {"story_url": f"{base}/story/{quote(article_id)}"}
    if revision and revision > 1:
        links["diff_url"] = f"{base}/story/{quote(article_id)}/diff/{revision - 1}/{revision}"
    return links


def summary_text(
    title: str | None,
    outlet: str | None,
    words_added: int,
    words_removed: int,
    first_change: str | None,
    first_change_kind: str | None,
    link: str | None,
    previous_title: str | None = None,
    *,
    new: bool = False,
) -> str:
    """One line for a chat message: headline (outlet), size of the change, the first changed
    sentence, the link."""
    head = title or "(untitled story)"
    if outlet:
        head += f" ({outlet})"
    if new:
        parts = [f"New story: {head}: {words_added} words."]
    else:
        parts = [f"Changed: {head}: +{words_added} / -{words_removed} words."]
    if previous_title and previous_title != title:
        parts.append(f"Headline was: {previous_title}.")
    if first_change:
        label = {"removed": "Removed", "added": "Added"}.get(first_change_kind or "", "Now")
        parts.append(f"{label}: “{first_change}”")
    if link:
        parts.append(link)
    return " ".join(parts)


# --- the automation -----------------------------------------------------------------------------

# The body the webhook receives. Only ``event``/``automation`` values are templated (the
# user's query or outlet never enters the template: no Jinja can hide in it).
PAYLOAD_FIELDS = (
    ("article_id", "article_id"),
    ("revision", "revision"),
    ("headline", "title"),
    ("previous_headline", "previous_title"),
    ("outlet", "outlet"),
    ("url", "url"),
    ("words_added", "words_added"),
    ("words_removed", "words_removed"),
    ("first_change", "first_change"),
    ("first_change_kind", "first_change_kind"),
    ("story_url", "story_url"),
    ("diff_url", "diff_url"),
    ("observed_at", "observed_at"),
    ("text", "summary"),
)


def payload_template() -> str:
    """The Jinja template of the webhook's JSON body (rendered by the Prefect server)."""
    lines = [
        '  "watch": {{ automation.name | tojson }}',
        '  "event": {{ event.event | tojson }}',
        '  "event_id": "{{ event.id }}"',
        '  "occurred": "{{ event.occurred.isoformat() }}"',
    ]
    lines += [
        f'  "{key}": {{{{ event.payload.{field} | tojson }}}}' for key, field in PAYLOAD_FIELDS
    ]
    return "{\n" + ",\n".join(lines) + "\n}"


def trigger(kind: WatchKind, value: str) -> dict[str, Any]:
    """The event trigger of a watch: every ``newsledger.article.revised`` event its filter
    matches fires it once (reactive, threshold 1, no window)."""
    match: dict[str, str] = {}
    match_related: dict[str, str] = {}
    if kind == "story":
        match = {"prefect.resource.id": f"newsledger.article.{value}"}
    elif kind == "outlet":
        match = {
            "prefect.resource.id": "newsledger.article.*",
            OUTLET_LABEL: _glob_literal(outlet_label(value)),
        }
    else:
        resource = search_resource(value)
        match = {"prefect.resource.id": "newsledger.article.*"}
        match_related = {
            "prefect.resource.id": resource["prefect.resource.id"],
            "prefect.resource.role": SEARCH_ROLE,
        }
    return {
        "type": "event",
        "match": match,
        "match_related": match_related,
        "after": [],
        "expect": [REVISED_EVENT],
        "for_each": [],
        "posture": "Reactive",
        "threshold": 1,
        "within": 0,
    }


def describe(kind: WatchKind, value: str) -> str:
    return {
        "story": f"story {value}",
        "outlet": f"stories of the outlet {value!r}",
        "search": f"stories matching the search {value!r}",
    }[kind]


def automation_body(watch: Watch, block_document_id: str) -> dict[str, Any]:
    """The ``POST /automations/`` body of a watch."""
    return {
        "name": watch.automation_name,
        "description": (
            f"newsledger watch: each revision of {describe(watch.kind, watch.value)} is "
            f"POSTed (a summary of the change, JSON) to {watch.webhook}"
        ),
        "enabled": True,
        "tags": [
            WATCH_TAG,
            KIND_TAG + watch.kind,
            VALUE_TAG + watch.value,
            WEBHOOK_TAG + watch.webhook,
        ],
        "trigger": trigger(watch.kind, watch.value),
        "actions": [
            {
                "type": "call-webhook",
                "block_document_id": block_document_id,
                "payload": payload_template(),
            }
        ],
        "actions_on_trigger": [],
        "actions_on_resolve": [],
    }


def watch_from_automation(data: Mapping[str, Any]) -> Watch | None:
    """The watch an automation (as the API returns it) is, or None if it is not one."""
    tags = list(data.get("tags") or [])
    name = str(data.get("name") or "")
    if WATCH_TAG not in tags or not name.startswith(NAME_PREFIX):
        return None

    def tagged(prefix: str) -> str | None:
        return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), None)

    kind = tagged(KIND_TAG)
    value = tagged(VALUE_TAG)
    if kind not in KINDS or value is None:
        return None
    block = next(
        (
            str(a["block_document_id"])
            for a in data.get("actions") or []
            if a.get("type") == "call-webhook" and a.get("block_document_id")
        ),
        None,
    )
    return Watch(
        name=name[len(NAME_PREFIX) :],
        kind=kind,  # checked against KINDS above
        value=value,
        webhook=tagged(WEBHOOK_TAG) or "",
        automation_id=str(data["id"]) if data.get("id") else None,
        block_document_id=block,
        enabled=bool(data.get("enabled", True)),
    )


def watched_queries(automations: Sequence[Mapping[str, Any]]) -> list[str]:
    """The queries of the enabled search watches among ``automations``."""
    queries = {
        normalise_query(w.value)
        for w in map(watch_from_automation, automations)
        if w is not None and w.kind == "search" and w.enabled
    }
    return sorted(queries)


# --- the REST API (the CLI: no `import prefect`) ------------------------------------------------


class PrefectRest:
    """The few requests a watch needs, against the server's REST API."""

    def __init__(self, api_url: str, headers: Mapping[str, str], timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.headers = dict(headers)
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        import httpx
        from newsledger.tasks.busy_retry import BusyRetryTransport

        try:
            # a server on SQLite answers 503 while another write holds its database
            with httpx.Client(
                transport=BusyRetryTransport(httpx.HTTPTransport()), timeout=self.timeout
            ) as client:
                response = client.request(
                    method, self.api_url + path, json=body, headers=self.headers
                )
        except httpx.HTTPError as error:
            raise PrefectAPIError(f"{method} {path} on {self.api_url}: {error}") from error
        if response.status_code >= 400:
            raise PrefectAPIError(
                f"the Prefect server refused {method} {path}: "
                f"{response.status_code} {response.text[:300]}"
            )
        return response.json() if response.content else None

    def automations(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.request("POST", "/automations/filter", {"offset": len(found), "limit": 200})
            found += page
            if len(page) < 200:
                return found

    def watches(self) -> list[Watch]:
        return sorted(
            (w for w in map(watch_from_automation, self.automations()) if w is not None),
            key=lambda w: w.name,
        )

    def webhook_block_type(self) -> tuple[str, str]:
        """(block type id, block schema id) of Prefect's ``Webhook`` block."""
        block_type = self.request("GET", "/block_types/slug/webhook")
        schemas = self.request(
            "POST",
            "/block_schemas/filter",
            {"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}, "limit": 1},
        )
        if not schemas:
            raise PrefectAPIError("the Prefect server has no schema of the Webhook block")
        return str(block_type["id"]), str(schemas[0]["id"])

    def create_watch(self, watch: Watch, webhook_url: str) -> Watch:
        """A Webhook block (POST, JSON, the URL kept as its secret) and the automation calling
        it; the block is deleted again if the automation cannot be made."""
        if any(w.name == watch.name for w in self.watches()):
            raise UsageError(
                f"a watch named {watch.name!r} exists: remove it first "
                f"(`newsledger watch --remove {watch.name}`) or pass another --name"
            )
        type_id, schema_id = self.webhook_block_type()
        block = self.request(
            "POST",
            "/block_documents/",
            {
                "name": watch.automation_name,
                "block_type_id": type_id,
                "block_schema_id": schema_id,
                "is_anonymous": False,
                "data": {
                    "method": "POST",
                    "url": webhook_url,
                    "headers": {"Content-Type": "application/json"},
                    "allow_private_urls": True,
                    "verify": True,
                },
            },
        )
        try:
            automation = self.request("POST", "/automations/", automation_body(watch, block["id"]))
        except BaseException:
            self.request("DELETE", f"/block_documents/{block['id']}")
            raise
        made = watch_from_automation(automation)
        if made is None:
            raise PrefectAPIError(
                f"the server returned an automation that is no watch: {automation}"
            )
        return made

    def remove_watch(self, name: str) -> Watch:
        found = next((w for w in self.watches() if w.name == name), None)
        if found is None:
            raise UsageError(f"no watch named {name!r} (see `newsledger watch --list`)")
        self.request("DELETE", f"/automations/{found.automation_id}")
        if found.block_document_id:
            try:
                self.request("DELETE", f"/block_documents/{found.block_document_id}")
            except PrefectAPIError as error:
                if "404" not in str(error):
                    raise
        return found


# --- matching searches before the event is emitted ---------------------------------------------


def matching_searches(
    settings: Settings, revised: Sequence[tuple[str, int]], queries: Sequence[str]
) -> dict[str, list[str]]:
    """For the stored revisions ``revised`` (article id, revision), the watched ``queries``
    each one's title and text contain every term of (see the module docstring); by article id.
    A query without a term (only stop words) matches nothing."""
    if not revised or not queries:
        return {}
    from newsledger.tasks.search import fts_stopwords, load_fts
    from newsledger.tasks.store import open_reader, sql

    with open_reader(settings, locked_down=False) as conn:
        load_fts(conn)
        stopwords = [row[0] for row in conn.execute("SELECT word FROM search_stopwords").fetchall()]
        rows = conn.execute(
            sql("notify_search_matches"),
            {
                "article_ids": [a for a, _ in revised],
                "revisions": [r for _, r in revised],
                "queries": list(queries),
                "stopwords": stopwords or fts_stopwords(),
            },
        ).fetchall()
    found: dict[str, list[str]] = {}
    for article_id, query in rows:
        found.setdefault(str(article_id), []).append(str(query))
    return found


def query_terms(settings: Settings, query: str) -> list[str] | None:
    """The search terms of ``query`` (its words that are not stop words), read with the
    ledger's tokenizer; None when there is no ledger yet to read it with."""
    if not settings.db.exists():
        return None
    from newsledger.tasks.search import fts_stopwords
    from newsledger.tasks.store import open_reader, sql

    with open_reader(settings, locked_down=False) as conn:
        stopwords = [row[0] for row in conn.execute("SELECT word FROM search_stopwords").fetchall()]
        rows = conn.execute(
            sql("notify_query_terms"),
            {"query": query, "stopwords": stopwords or fts_stopwords()},
        ).fetchall()
    return [str(row[0]) for row in rows]


def as_json(watch: Watch) -> str:
    return json.dumps(
        {
            "name": watch.name,
            "kind": watch.kind,
            "value": watch.value,
            "webhook": watch.webhook,
            "enabled": watch.enabled,
            "automation_id": watch.automation_id,
        }
    )
