"""Clean + metadata stages (tasks/clean.py, tasks/metadata.py): the seed story, the seed text
format with and without its header, bylines, datelines, update notes, normalisation, and a
realistic HTML page through trafilatura + htmldate."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st
from newsledger.tasks.clean import (
    clean_document,
    clean_text_document,
    extractor_version,
    normalize_text,
)
from newsledger.tasks.errors import ExtractionError
from newsledger.tasks.load import FileInput, read_document
from newsledger.tasks.metadata import (
    UPDATE_NOTE,
    content_fingerprint,
    describe,
    find_update_notes,
    split_byline,
    split_dateline,
    split_sentences,
)
from newsledger.tasks.models import (
    ArticleContent,
    ExtractedArticle,
    FailedInput,
    SourceDocument,
)
from newsledger.tasks.pipeline import extract_document, ingest_paths
from newsledger.tasks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = REPO_ROOT / "seeds" / "articles" / "cnn-2025-09-02-idf-chief-netanyahu.txt"


def text_doc(text: str | bytes, kind: str = "text", url: str | None = None) -> SourceDocument:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return SourceDocument(
        "file:story",
        "story",
        kind,
        raw,
        hashlib.sha256(raw).hexdigest(),  # type: ignore[arg-type]
        url=url,
    )


def extract(text: str | bytes, kind: str = "text") -> ArticleContent:
    document = text_doc(text, kind)
    return describe(document, clean_document(document))


# --------------------------------------------------------------------------- the seed story


@pytest.fixture(scope="module")
def seed() -> ArticleContent:
    document = read_document(FileInput(SEED, SEED.parent, explicit=True), 20 * 1024 * 1024)
    return describe(document, clean_document(document))


def test_seed_authors_outlet_dates(seed: ArticleContent) -> None:
    assert list(seed.authors) == ["Tal Shalev", "Dana Karni"]
    assert seed.outlet == "CNN"
    assert seed.published_at == date(2025, 9, 2)
    assert seed.modified_at is None
    assert seed.title is None  # the file states no title; nothing is invented


def test_seed_dateline_lede_language(seed: ArticleContent) -> None:
    assert seed.dateline == "CNN"
    assert seed.lede is not None
    assert seed.lede.startswith("Tensions between Israel’s military and political leadership")
    assert seed.lede.endswith("two Israeli officials told CNN.")
    assert seed.language == "en"


def test_seed_section_headings_and_update_note(seed: ArticleContent) -> None:
    assert list(seed.section_headings) == [
        "‘Military coup reminiscent of banana republics’",
        "Hundreds of IDF reservists vow to refuse orders",
    ]
    assert list(seed.update_notes) == ["This story has been updated with additional developments."]


def test_seed_text_is_the_body_without_the_header(seed: ArticleContent) -> None:
    assert seed.text.startswith("(CNN) — Tensions between Israel’s military")
    assert "date 2025-09-02" not in seed.text and "By Tal Shalev" not in seed.text
    assert seed.text.endswith("This story has been updated with additional developments.")
    paragraphs = seed.text.split("\n\n")
    blocks_in_file = [b for b in SEED.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    assert len(paragraphs) == len(blocks_in_file) - 1 == 27  # all but the header line
    assert "Hundreds of IDF reservists vow to refuse orders" in paragraphs
    assert all(p == p.strip() and "\n" not in p for p in paragraphs)
    assert 950 <= seed.word_count <= 1050
    assert seed.content_hash == content_fingerprint(None, ["Tal Shalev", "Dana Karni"], seed.text)
    assert seed.metadata["source_kind"] == "text"


# --------------------------------------------------------------------------- the seed format


BODY = (
    "The harbour reopened on Thursday after a week of repairs. Boats lined up before dawn.\n\n"
    "Officials said the work cost less than expected.\n"
)


def test_text_without_header_loads() -> None:
    content = extract(BODY)
    assert content.text == (
        "The harbour reopened on Thursday after a week of repairs. Boats lined up before dawn."
        "\n\nOfficials said the work cost less than expected."
    )
    assert content.authors == ()
    assert (content.title, content.outlet, content.published_at, content.dateline) == (
        None,
        None,
        None,
        None,
    )
    assert content.lede == "The harbour reopened on Thursday after a week of repairs."
    assert content.language == "en"


def test_header_fields_are_read() -> None:
    content = extract(
        "title: Harbour reopens\nurl: https://example.com/harbour?utm_source=x\n"
        "date 2025-01-02 By Ann Lee and Bo Chan, Reuters\nmodified: 2025-01-04\n\n" + BODY
    )
    assert content.title == "Harbour reopens"
    assert list(content.authors) == ["Ann Lee", "Bo Chan"]
    assert content.outlet == "Reuters"
    assert content.published_at == date(2025, 1, 2)
    assert content.modified_at == date(2025, 1, 4)
    assert content.canonical_url == "https://example.com/harbour"
    assert "title:" not in content.text and "Harbour reopens" not in content.text


def test_a_byline_line_after_the_date_line_is_the_byline() -> None:
    content = extract("date 2025-03-01\nBy Ann Lee; Bo Chan\n\n" + BODY)
    assert list(content.authors) == ["Ann Lee", "Bo Chan"]
    assert content.published_at == date(2025, 3, 1)


def test_first_and_last_paragraphs_are_never_headings() -> None:
    cleaned = clean_text_document(b"Short opening line\n\nA body sentence here.\n\nClosing line")
    assert [b.kind for b in cleaned.blocks] == ["paragraph", "paragraph", "paragraph"]


@pytest.mark.parametrize(
    ("byline", "authors", "outlet"),
    [
        ("A and B", ["A", "B"], None),
        ("Ann Lee and Bo Chan", ["Ann Lee", "Bo Chan"], None),
        ("Ann Lee, Bo Chan and Cy Diaz", ["Ann Lee", "Bo Chan", "Cy Diaz"], None),
        ("Ann Lee, Bo Chan, and Cy Diaz", ["Ann Lee", "Bo Chan", "Cy Diaz"], None),
        ("Ann Lee; Bo Chan", ["Ann Lee", "Bo Chan"], None),
        ("By Xavier Doe, Reuters", ["Xavier Doe"], "Reuters"),
        ("By Tal Shalev and Dana Karni, CNN", ["Tal Shalev", "Dana Karni"], "CNN"),
        ("by Ann Lee, The Washington Post", ["Ann Lee"], "The Washington Post"),
        ("Reporting by Ann Lee & Bo Chan", ["Ann Lee", "Bo Chan"], None),
    ],
)
def test_split_byline(byline: str, authors: list[str], outlet: str | None) -> None:
    assert split_byline(byline) == (authors, outlet)


def test_byline_in_header_feeds_authors_and_outlet() -> None:
    content = extract("date 2025-01-02 By Ann Lee, Bo Chan and Cy Diaz, AP\n\n" + BODY)
    assert list(content.authors) == ["Ann Lee", "Bo Chan", "Cy Diaz"]
    assert content.outlet == "AP"


@pytest.mark.parametrize(
    ("paragraph", "dateline", "rest"),
    [
        (
            "WASHINGTON (AP) — The Senate voted on Tuesday.",
            "WASHINGTON (AP)",
            "The Senate voted on Tuesday.",
        ),
        ("(CNN) — Tensions rose sharply.", "CNN", "Tensions rose sharply."),
        ("LONDON, Sept 2 (Reuters) - Shares fell.", "LONDON, Sept 2 (Reuters)", "Shares fell."),
        ("GAZA CITY — Crowds gathered.", "GAZA CITY", "Crowds gathered."),
        (
            "The Senate voted on Tuesday — narrowly.",
            None,
            "The Senate voted on Tuesday — narrowly.",
        ),
    ],
)
def test_split_dateline(paragraph: str, dateline: str | None, rest: str) -> None:
    assert split_dateline(paragraph) == (dateline, rest)


def test_dateline_is_stored_and_the_lede_starts_after_it() -> None:
    content = extract("WASHINGTON (AP) — The Senate voted 51-49 on Tuesday. Debate ran late.\n")
    assert content.dateline == "WASHINGTON (AP)"
    assert content.lede == "The Senate voted 51-49 on Tuesday."


@pytest.mark.parametrize(
    "note",
    [
        "Correction: An earlier version of this story misstated the date of the vote.",
        "Editor's note: This story contains descriptions of violence.",
        "Editor’s note: Names have been changed to protect the sources.",
        "This article has been corrected to fix the spelling of a name.",
        "An earlier version of this story gave the wrong figure.",
    ],
)
def test_update_notes_are_found(note: str) -> None:
    content = extract(BODY + "\n" + note + "\n")
    assert list(content.update_notes) == [note]
    assert find_update_notes(["Plain sentence.", f"Other words here. {note}"]) == [note]


def test_ordinary_sentences_are_not_update_notes() -> None:
    assert (
        find_update_notes(
            [
                "The story of the harbour is long.",
                "Officials corrected the record on Tuesday.",
                "He updated the council: work is done.",
            ]
        )
        == []
    )


NOTE_PIECES = [
    "Correction:",
    "CORRECTIONS :",
    "Editor\u2019s Note:",
    "This post is revised",
    "The page had been amended",
    "The headline was changed",
    "The previous version of this post",
    "Clarification:",
    "UPDATED on Monday:",
    "Update 3:",
    "Upd:",
    "Updated at 5 pm:",
    "This story has been updated",
    "The article was",
    "editor's note:",
    "An earlier version of this report",
    "Mr. Smith said.",
    "The vote passed.",
    "(CNN)",
    "update:",
    "U.S. officials",
    "It rained.",
    "\u201cYes.\u201d",
    " ",
    "2025.",
]


@settings_hypothesis(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(NOTE_PIECES), max_size=8).map(" ".join), max_size=4))
def test_update_notes_prefilter_changes_nothing(paragraphs: list[str]) -> None:
    """Paragraphs are only split when UPDATE_NOTE matches somewhere in them: the notes are
    exactly those of matching every sentence of every paragraph."""
    expected: list[str] = []
    for paragraph in paragraphs:
        for sentence in split_sentences(paragraph):
            if UPDATE_NOTE.match(sentence) and sentence not in expected:
                expected.append(sentence)
    assert find_update_notes(paragraphs) == expected


def test_normalisation_nfc_and_whitespace_keep_paragraph_breaks() -> None:
    decomposed = "Cafe\u0301 owners\t\tmet   in\u00a0the  square.\r\nThey  talked."
    raw = f"  {decomposed}  \r\n\r\n\r\n   Second\u2003paragraph\n  here.  \n\n\n\nThird.\n"
    cleaned = clean_text_document(raw.encode("utf-8"))
    expected = "Café owners met in the square. They talked.\n\nSecond paragraph here.\n\nThird."
    assert cleaned.text == expected
    assert unicodedata.is_normalized("NFC", cleaned.text)
    assert normalize_text(raw) == expected
    assert normalize_text(expected) == expected


def test_content_fingerprint_covers_title_authors_and_text_only() -> None:
    base = content_fingerprint("T", ["A"], "text")
    assert base == content_fingerprint("T", ["A"], "text")
    assert (
        len(
            {
                base,
                content_fingerprint("U", ["A"], "text"),
                content_fingerprint("T", ["B"], "text"),
                content_fingerprint("T", ["A"], "txt"),
                content_fingerprint(None, ["A"], "text"),
            }
        )
        == 5
    )


# --------------------------------------------------------------------------- HTML

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harbor city votes to rebuild its flooded seawall | The Coastal Tribune</title>
  <meta property="og:title" content="Harbor city votes to rebuild its flooded seawall">
  <meta property="og:site_name" content="The Coastal Tribune">
  <meta name="author" content="Maria Lopez and James Chen">
  <meta property="article:published_time" content="2024-03-05T08:30:00Z">
  <meta property="article:modified_time" content="2024-03-07T16:45:00Z">
  <meta name="description" content="After two winters of flooding, the council approved a seawall.">
  <link rel="canonical" href="https://coastal-tribune.example/news/2024/03/05/seawall-vote">
  <script>window.dataLayer = window.dataLayer || [];</script>
</head>
<body>
<header>
  <a class="logo" href="/">The Coastal Tribune</a>
  <nav><ul>
    <li><a href="/">Home</a></li><li><a href="/news">News</a></li>
    <li><a href="/sports">Sports</a></li><li><a href="/subscribe">Subscribe today and save</a></li>
  </ul></nav>
</header>
<main>
<article>
  <h1>Harbor city votes to rebuild its flooded seawall</h1>
  <p class="byline">By Maria Lopez and James Chen</p>
  <p>The city council voted seven to two on Tuesday night to rebuild the harbor seawall, ending a
  debate that has divided the waterfront neighborhoods for more than two years.</p>
  <p>The new wall will rise nearly a meter above the old one and will be built in three phases,
  starting with the stretch along the fish market that flooded four times last winter.</p>
  <h2>A costly decision</h2>
  <p>Engineers put the cost of the project at about 48 million dollars, most of which the city
  hopes to cover with a state resilience grant and a bond measure that voters will consider in
  November.</p>
  <p>Several council members said the price was high but argued that doing nothing would cost
  more. Business owners along the pier told the council that each flood had closed their shops
  for a week or longer.</p>
  <h2>What residents said</h2>
  <p>More than a hundred residents spoke during the public comment period, which stretched past
  midnight. Many supported the plan, while others asked the council to consider moving some
  buildings away from the water instead.</p>
  <p>The mayor said construction could begin next spring if the grant is approved by the state
  board in the fall.</p>
  <p><em>Correction: An earlier version of this story misstated the council vote.</em></p>
</article>
<aside class="related"><h3>Most read</h3><ul><li><a href="/a">Ferry fares rise again</a></li>
  <li><a href="/b">Storm season outlook</a></li></ul></aside>
</main>
<footer>
  <p>Copyright 2024 The Coastal Tribune. All rights reserved.</p>
  <ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li></ul>
</footer>
</body>
</html>
"""


@pytest.fixture(scope="module")
def page() -> ArticleContent:
    return extract(PAGE, kind="html")


def test_html_title_authors_outlet(page: ArticleContent) -> None:
    assert page.title == "Harbor city votes to rebuild its flooded seawall"
    assert list(page.authors) == ["Maria Lopez", "James Chen"]
    assert page.outlet == "The Coastal Tribune"
    assert page.canonical_url == "https://coastal-tribune.example/news/2024/03/05/seawall-vote"
    assert page.language == "en"


def test_html_published_and_modified_dates(page: ArticleContent) -> None:
    # The canonical URL carries the publication date; the modified date must still be found.
    assert page.published_at == date(2024, 3, 5)
    assert page.modified_at == date(2024, 3, 7)


def test_html_without_an_update_has_no_modified_date() -> None:
    content = extract(
        PAGE.replace('<meta property="article:modified_time" content="2024-03-07T16:45:00Z">', ""),
        kind="html",
    )
    assert content.published_at == date(2024, 3, 5)
    assert content.modified_at is None


def test_html_main_text_headings_and_notes(page: ArticleContent) -> None:
    assert list(page.section_headings) == ["A costly decision", "What residents said"]
    paragraphs = page.text.split("\n\n")
    assert paragraphs[0].startswith("The city council voted seven to two on Tuesday night")
    assert "A costly decision" in paragraphs
    assert "ending a debate that has divided" in page.text  # white space inside <p> folded
    assert list(page.update_notes) == [
        "Correction: An earlier version of this story misstated the council vote."
    ]
    assert page.lede is not None and page.lede.startswith("The city council voted")
    assert 180 <= page.word_count <= 230


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Subscribe today",
        "Privacy policy",
        "Copyright 2024",
        "Terms of use",
        "Most read",
        "Ferry fares rise again",
        "dataLayer",
        "Home",
    ],
)
def test_html_boilerplate_is_dropped(page: ArticleContent, boilerplate: str) -> None:
    assert boilerplate not in page.text


def test_html_title_is_never_invented() -> None:
    body = "<p>" + "The river rose overnight and the town woke to water in the streets. " * 4
    content = extract(f"<html><body><div>{body}</p></div></body></html>", kind="html")
    assert content.title is None
    assert content.text.startswith("The river rose overnight")


def test_html_language_is_detected_from_text() -> None:
    french = (
        "<html><head><title>Le conseil vote la digue</title></head><body><article>"
        "<p>Le conseil municipal a voté mardi soir la reconstruction de la digue du port, "
        "mettant fin à un débat qui divisait les quartiers depuis plus de deux ans.</p>"
        "<p>La nouvelle digue sera plus haute que l'ancienne et construite en trois phases, "
        "selon les ingénieurs de la ville.</p></article></body></html>"
    )
    content = extract(french, kind="html")
    assert content.language == "fr"
    assert content.title == "Le conseil vote la digue"


def test_html_with_a_legacy_charset_is_decoded() -> None:
    raw = (
        "<html><head><meta charset='windows-1252'><title>Café reopens</title></head><body>"
        "<article><p>The café on the corner reopened after a long winter, and its owner, "
        "René, said the naïve hope of a quick repair had faded in “week two”.</p>"
        "<p>Regulars returned on the first morning and the queue reached the harbour.</p>"
        "</article></body></html>"
    ).encode("cp1252")
    content = extract(raw, kind="html")
    assert "René" in content.text and "naïve" in content.text and "“week two”" in content.text


JS_SHELL = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Loading</title>"
    "<script src='/app.js' defer></script><style>body{margin:0}</style></head>"
    "<body><div id='root'></div><img src='/pixel.gif' alt=''>"
    '<script>window.__STATE__ = {"page": "article"};</script></body></html>'
)


@pytest.mark.parametrize("html", [JS_SHELL, "<html></html>", "<html><body> </body></html>"])
def test_html_without_main_text_is_an_extraction_error(html: str) -> None:
    document = text_doc(html, kind="html")
    with pytest.raises(ExtractionError, match=r"no main text|not parseable"):
        clean_document(document)
    failure = extract_document(document)
    assert isinstance(failure, FailedInput)
    assert (failure.stage, failure.error) == ("clean", "no_content")
    assert failure.identity == "file:story" and failure.raw_hash == document.raw_hash


def test_extraction_failure_is_recorded_by_an_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "shell.html").write_text(JS_SHELL)
    (folder / "story.html").write_text(PAGE)
    settings = Settings(db=tmp_path / "ledger.duckdb")
    summary = ingest_paths([str(folder)], settings)
    assert (summary.new, summary.failed) == (1, 1)
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        row = conn.execute("SELECT input, stage, error, message, identity FROM failures").fetchone()
        outcome = conn.execute(
            "SELECT outcome FROM observations WHERE input = ?", [str(folder / "shell.html")]
        ).fetchone()
    assert row is not None
    assert row[:3] == (str(folder / "shell.html"), "clean", "no_content")
    assert "trafilatura found no main text" in row[3]
    assert row[4] == "file:shell.html"
    assert outcome == ("failed",)


def test_extract_document_labels_the_extractor_version() -> None:
    result = extract_document(text_doc(PAGE, kind="html"))
    assert isinstance(result, ExtractedArticle)
    assert result.extractor_version == extractor_version("html")
    assert "trafilatura-" in result.extractor_version
    assert extractor_version("text").startswith("text-")


def test_html_declared_language_is_used_and_a_malformed_one_ignored() -> None:
    body = (
        "<head><title>Rat stimmt ab</title></head><body><article>"
        "<p>Der Stadtrat hat am Dienstagabend den Wiederaufbau des Hafendamms beschlossen und "
        "damit eine Debatte beendet, die die Viertel seit mehr als zwei Jahren spaltete.</p>"
        "</article></body></html>"
    )
    assert extract(f'<html lang="de-DE">{body}', kind="html").language == "de"
    # A malformed tag is not trusted: the language is detected from the text instead.
    assert extract(f'<html lang="{{{{lang}}}}">{body}', kind="html").language == "de"
