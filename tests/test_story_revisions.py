"""The revision rule on real ingests (tasks.pipeline, real files, real DuckDB): page noise that
slips through extraction makes no revision, an edit deep in the body does and says why;
publication times are stored as timestamps with time zone; a ledger made at migration 009
reads as before after migrations 010 and 011."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings
from newsledger.tasks.store import migrations

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = next((REPO_ROOT / "seeds" / "articles").glob("*.txt"))

PARAGRAPHS = [
    "The city council voted on Tuesday night to rebuild the sea wall that collapsed during "
    "last winter's storms, ending months of debate.",
    "The vote was 7 to 2, with the two dissenting members arguing that the plan did not "
    "account for rising sea levels along the northern shore.",
    "Work is expected to begin in March and to cost about 4.5 million euros, according to "
    "figures presented by the city's engineering office.",
    "Residents who lost their homes in the storm will be offered temporary housing in the old "
    "school building until the work is finished.",
    "“We have waited long enough,” Mayor Ana Ortiz told the packed chamber, to loud applause "
    "from residents who had come to watch the vote.",
    "The regional government has promised to cover half of the cost, but the agreement still "
    "needs the approval of the regional parliament.",
    "Engineers said the new wall would be 1.8 metres higher than the old one and would be "
    "built from reinforced concrete rather than stone.",
    "The council will hold a public meeting on the design on 14 February, and residents can "
    "send comments to the engineering office until then.",
]
TITLE = "Council votes to rebuild the sea wall"


def page(
    paragraphs: list[str],
    extra: dict[int, str] | None = None,
    title: str = TITLE,
    modified: str | None = None,
) -> str:
    body = []
    for index, paragraph in enumerate(paragraphs):
        body.append(f"<p>{paragraph}</p>")
        if extra and index in extra:
            body.append(extra[index])
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": "2025-09-02T23:30:00-05:00",
            "author": {"@type": "Person", "name": "Ann Lee"},
            "publisher": {"@type": "Organization", "name": "Example News"},
            **({"dateModified": modified} if modified else {}),
        }
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | Example News</title>"
        f'<script type="application/ld+json">{ld}</script></head><body>'
        '<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>'
        f"<main><article><h1>{title}</h1>\n" + "\n".join(body) + "\n</article></main>"
        "<footer><p>Copyright Example News</p></footer></body></html>"
    )


NOISE = {
    "ad label": {2: "<p>Advertisement</p>", 6: "<p>ANZEIGE</p>"},
    "related links": {
        3: '<h2>Related stories</h2><ul><li><a href="/a">Storm hits the coast again</a></li>'
        '<li><a href="/b">Town counts the cost</a></li></ul>'
    },
    "counter": {5: "<p>123 comments</p>", 7: "<p>Share this article</p>"},
    "page timestamp": {1: "<p>Updated 3 minutes ago</p>"},
    "log-in prompt": {4: "<p>Already a subscriber? Log in</p>"},
}


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(sql).fetchall()


def ingest(settings: Settings, path: Path, text: str) -> dict[str, int]:
    path.write_text(text, encoding="utf-8")
    summary = ingest_paths([str(path.parent)], settings)
    return {"new": summary.new, "revised": summary.revised, "unchanged": summary.unchanged}


@pytest.fixture
def reading(settings: Settings) -> Settings:
    """Every file read and hashed on every ingest (no stat shortcut)."""
    return settings.model_copy(update={"trust_file_stat": False})


def test_an_unchanged_page_ingested_again_adds_nothing(reading: Settings, tmp_path: Path) -> None:
    story = tmp_path / "site" / "story.html"
    story.parent.mkdir()
    assert ingest(reading, story, page(PARAGRAPHS)) == {"new": 1, "revised": 0, "unchanged": 0}
    before = query(reading, "SELECT * FROM revisions")
    # the same bytes, then the same page re-serialised (other bytes, so it is extracted again)
    assert ingest(reading, story, page(PARAGRAPHS))["unchanged"] == 1
    reflowed = page(PARAGRAPHS).replace("<p>", "<p>\n   ").replace(" the ", "  the\n ")
    assert ingest(reading, story, reflowed) == {"new": 0, "revised": 0, "unchanged": 1}
    assert query(reading, "SELECT * FROM revisions") == before


@pytest.mark.parametrize("kind", sorted(NOISE))
def test_page_noise_makes_no_revision(reading: Settings, tmp_path: Path, kind: str) -> None:
    story = tmp_path / "site" / "story.html"
    story.parent.mkdir()
    ingest(reading, story, page(PARAGRAPHS))
    assert ingest(reading, story, page(PARAGRAPHS, NOISE[kind])) == {
        "new": 0,
        "revised": 0,
        "unchanged": 1,
    }
    # the noise did reach the extracted text (else this would test nothing): an edit made
    # together with it is stored with it, and the noise is counted as boilerplate
    edited = [*PARAGRAPHS[:7], PARAGRAPHS[7].replace("14 February", "15 February")]
    assert ingest(reading, story, page(edited, NOISE[kind]))["revised"] == 1
    [(boilerplate,)] = query(reading, "SELECT boilerplate_blocks FROM latest_revisions")
    assert boilerplate >= 1


def test_noise_in_a_text_file_makes_no_revision(reading: Settings, tmp_path: Path) -> None:
    story = tmp_path / "files" / SEED.name
    story.parent.mkdir()
    text = SEED.read_text(encoding="utf-8")
    assert ingest(reading, story, text)["new"] == 1
    parts = text.split("\n\n")
    noisy = "\n\n".join(
        [
            *parts[:3],
            "Advertisement",
            *parts[3:6],
            "Related: Israel’s army chief | Gaza talks",
            *parts[6:9],
            "1,204 comments",
            *parts[9:],
        ]
    )
    assert ingest(reading, story, noisy) == {"new": 0, "revised": 0, "unchanged": 1}


@pytest.mark.parametrize(
    ("edit", "changed", "blocks"),
    [
        ("number", ["text"], (0, 0, 1)),
        ("appended note", ["text"], (1, 0, 0)),
        ("dropped paragraph", ["text"], (0, 1, 0)),
        ("headline", ["title"], (0, 0, 0)),
    ],
)
def test_an_edit_deep_in_the_body_makes_a_revision_that_says_why(
    reading: Settings, tmp_path: Path, edit: str, changed: list[str], blocks: tuple[int, ...]
) -> None:
    story = tmp_path / "site" / "story.html"
    story.parent.mkdir()
    noise = NOISE["ad label"]
    ingest(reading, story, page(PARAGRAPHS, noise))
    paragraphs, title = list(PARAGRAPHS), TITLE
    if edit == "number":
        paragraphs[6] = paragraphs[6].replace("1.8 metres", "1.9 metres")
    elif edit == "appended note":
        paragraphs.append("This story has been updated with the regional government's reply.")
    elif edit == "dropped paragraph":
        del paragraphs[5]
    else:
        title = "Council votes 7-2 to rebuild the sea wall"
    assert ingest(reading, story, page(paragraphs, noise, title))["revised"] == 1
    [row] = query(
        reading,
        "SELECT revision, changed_fields, change_reason, blocks_added, blocks_removed, "
        "blocks_changed, story_hash LIKE 'story-v2:%' FROM latest_revisions",
    )
    assert row == (2, changed, "edited", *blocks, True)


def test_publication_time_is_a_timestamp_with_its_offset_kept(
    settings: Settings, tmp_path: Path
) -> None:
    story = tmp_path / "site" / "story.html"
    story.parent.mkdir()
    ingest(settings, story, page(PARAGRAPHS))
    [row] = query(
        settings,
        "SELECT published_at, published_time_known, published_date, "
        "metadata->>'published_at_iso', stated_time_label(published_at, published_time_known) "
        "FROM latest_revisions",
    )
    assert row == (
        datetime(2025, 9, 3, 4, 30, tzinfo=UTC),  # 23:30 at -05:00 is the next day in UTC
        True,
        date(2025, 9, 2),  # the day the page states
        "2025-09-02T23:30:00-05:00",
        "2025-09-03 04:30 UTC",
    )


def test_an_update_later_the_same_day_keeps_its_time(settings: Settings, tmp_path: Path) -> None:
    story = tmp_path / "site" / "story.html"
    story.parent.mkdir()
    ingest(settings, story, page(PARAGRAPHS, modified="2025-09-02T23:55:00-05:00"))
    assert query(
        settings,
        "SELECT modified_at, modified_time_known, modified_date, "
        "modified_at - published_at FROM latest_revisions",
    ) == [(datetime(2025, 9, 3, 4, 55, tzinfo=UTC), True, date(2025, 9, 2), timedelta(minutes=25))]


def test_a_text_header_may_state_a_time_with_its_offset(settings: Settings, tmp_path: Path) -> None:
    story = tmp_path / "files" / "story.txt"
    story.parent.mkdir()
    ingest(
        settings,
        story,
        "published: 2025-09-01T10:00:00+02:00\nBy Ann Lee\n\n" + "\n\n".join(PARAGRAPHS),
    )
    assert query(
        settings, "SELECT published_at, published_time_known, published_date FROM latest_revisions"
    ) == [(datetime(2025, 9, 1, 8, 0, tzinfo=UTC), True, date(2025, 9, 1))]


def test_the_seed_story_is_dated_midnight_utc_time_unknown(
    settings: Settings, tmp_path: Path
) -> None:
    shutil.copytree(REPO_ROOT / "seeds", tmp_path / "seeds")
    ingest_paths([str(tmp_path / "seeds")], settings)
    assert query(
        settings,
        "SELECT published_at, published_time_known, published_date, modified_at, authors, "
        "outlet FROM latest_revisions",
    ) == [
        (
            datetime(2025, 9, 2, tzinfo=UTC),
            False,
            date(2025, 9, 2),
            None,
            ["Tal Shalev", "Dana Karni"],
            "CNN",
        )
    ]


# --- a ledger made at migration 009 -------------------------------------------------------------


def ledger_at(path: Path, version: int) -> None:
    """A ledger with the migrations up to ``version`` applied, as that release made it."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        )
        for number, name, file in migrations():
            if number <= version:
                conn.execute(file.read_text(encoding="utf-8"))
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
        conn.execute("CHECKPOINT")


OLD_TABLES = ("articles", "article_identities", "revisions")


def test_a_ledger_made_at_migration_009_reads_as_before(tmp_path: Path) -> None:
    """Old rows (written as the 009 code wrote them: no timestamps, no story hash) read as
    before; the views give them one coherent time column; the same story ingested again,
    with page noise, adds nothing; an edit adds revision 2 and leaves revision 1 as it was."""
    files = tmp_path / "files"
    files.mkdir()
    story = files / SEED.name
    text = SEED.read_text(encoding="utf-8")
    story.write_text(text, encoding="utf-8")
    # rows as the 009 code stored them: ingest with this code, keep the 009 columns only
    donor = Settings(db=tmp_path / "donor.duckdb", lock_timeout_seconds=30)
    ingest_paths([str(files)], donor)
    old = Settings(db=tmp_path / "old.duckdb", lock_timeout_seconds=30, trust_file_stat=False)
    ledger_at(old.db, 9)
    with duckdb.connect(str(old.db)) as conn:
        conn.execute(f"ATTACH '{donor.db}' AS donor (READ_ONLY)")
        for table in OLD_TABLES:
            columns = ", ".join(
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = "
                    "current_database() AND table_name = ? ORDER BY column_index",
                    [table],
                ).fetchall()
            )
            conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM donor.{table}")
        conn.execute("DETACH donor")
        revision_1 = conn.execute("SELECT * FROM revisions").fetchall()
        [published] = conn.execute("SELECT published_at FROM revisions").fetchone() or [None]
    assert published == date(2025, 9, 2)

    parts = text.split("\n\n")
    noisy = "\n\n".join([*parts[:4], "Advertisement", *parts[4:], "87 comments"])
    assert ingest(old, story, noisy) == {"new": 0, "revised": 0, "unchanged": 1}
    assert query(old, "SELECT max(version) FROM schema_migrations") == [(migrations()[-1][0],)]
    old_columns = len(revision_1[0])
    assert [row[:old_columns] for row in query(old, "SELECT * FROM revisions")] == revision_1
    assert query(
        old,
        "SELECT revision, published_at, published_time_known, published_date, story_hash, "
        "change_reason FROM latest_revisions",
    ) == [(1, datetime(2025, 9, 2, tzinfo=UTC), False, date(2025, 9, 2), None, None)]

    edited = noisy.replace("Tens of thousands", "Many tens of thousands")
    assert ingest(old, story, edited)["revised"] == 1
    rows = query(old, "SELECT * FROM revisions ORDER BY revision")
    assert [row[:old_columns] for row in rows[:1]] == revision_1  # history not rewritten
    assert query(
        old,
        "SELECT revision, published_at, published_time_known, change_reason, changed_fields "
        "FROM revisions_timed ORDER BY revision",
    ) == [
        (1, datetime(2025, 9, 2, tzinfo=UTC), False, None, []),
        (2, datetime(2025, 9, 2, tzinfo=UTC), False, "edited", ["text"]),
    ]
