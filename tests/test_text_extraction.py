"""HTML text extraction keeps every piece of text trafilatura keeps, and pages are decoded as
browsers decode them (WHATWG labels, BOM first, no mojibake from UTF-8, undeclared pages
detected)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import trafilatura
from newsledger.tasks.clean import (
    DEFAULT_EXTRACTION_MODE,
    EXTRACTOR_REVISION,
    clean_html_document,
    extractor_version,
)
from newsledger.tasks.encoding import decode_text
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings

# Loose text between the paragraphs of an article (no <p> around it): trafilatura keeps it as
# the tails of the heading and paragraph elements directly under its <body>.
LOOSE_TEXT_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Harbour bridge reopens after repairs</title></head>
<body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article>
<h1>Harbour bridge reopens after repairs</h1>
<h2>Eight months of work</h2>
The harbour bridge reopened to traffic on Monday morning after eight months of repairs, the city
transport office said, with buses returning to the route first and cars following in the afternoon.
<p>Engineers replaced the corroded cables on the northern span and resurfaced the whole deck, work
that had been planned for a decade but was delayed twice by disputes over the budget.</p>
<p>The mayor thanked residents for their patience during the closure, which had added up to forty
minutes to the daily commute of people living on the northern shore.</p>
Shop owners near the bridge said trade had fallen by a third while it was closed and they hoped
customers would now come back quickly.
<h2>What comes next</h2>
<p>A second phase of the work, on the southern approach roads, is due to start next spring and
should not require a full closure, the transport office added.</p>
Cyclists will get a separate lane on the eastern side from June, once the new railings have been
installed along the full length of the bridge.
</article>
<footer>Copyright 2024 Example News</footer>
</body></html>
"""


def words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("mode", ["fast", "precise"])
def test_loose_text_and_tails_are_kept_in_order(mode: str) -> None:
    cleaned = clean_html_document(LOOSE_TEXT_PAGE.encode(), "loose.html", mode=mode)
    texts = [block.text for block in cleaned.blocks]
    assert texts[0] == "Eight months of work"
    assert texts[1].startswith("The harbour bridge reopened to traffic on Monday morning")
    assert texts[4].startswith("Shop owners near the bridge said trade had fallen")
    assert texts[5] == "What comes next"
    assert texts[-1].startswith("Cyclists will get a separate lane")
    kinds = "heading paragraph paragraph paragraph paragraph heading paragraph paragraph"
    assert [block.kind for block in cleaned.blocks] == kinds.split()


@pytest.mark.parametrize("mode", ["fast", "precise"])
def test_every_word_trafilatura_keeps_is_kept(mode: str) -> None:
    cleaned = clean_html_document(LOOSE_TEXT_PAGE.encode(), "loose.html", mode=mode)
    theirs = trafilatura.extract(LOOSE_TEXT_PAGE, fast=mode == "fast", include_tables=True)
    assert theirs is not None
    # trafilatura's text starts with the title; ours keeps it as the title, not in the body
    title_words = len(words("Harbour bridge reopens after repairs"))
    assert words(cleaned.text) == words(theirs)[title_words:]


# --- decoding ----------------------------------------------------------------------------------

JAPANESE = (
    "東京都は月曜日、新しい防災計画を発表した。地震や台風に備えて、避難所の数を増やし、"
    "住民への情報提供を強化する。計画は来年四月から実施される予定で、費用は約百億円と見込まれている。"
)
CHINESE = (
    "北京市政府周一宣布了新的交通计划。该计划旨在减少市中心的交通拥堵，增加公共汽车和地铁的班次。"
    "官员表示，新计划将于明年春季开始实施，预计耗资约五十亿元人民币。"
)
RUSSIAN = (
    "Городские власти в понедельник объявили о новом плане развития общественного транспорта. "
    "План предусматривает увеличение числа автобусов и трамваев, а также строительство новых "
    "станций метро в ближайшие пять лет."
)
FRENCH = (
    "Café crème à la mairie : le conseil municipal s'est réuni mardi soir pour débattre du "
    "budget des transports. Les élus ont longuement discuté du coût du tramway ; le maire a "
    "promis une décision définitive avant la fin du mois, déjà très attendue."
)
SPANISH = (
    "Crónica de una jornada histórica: el alcalde inauguró la nueva línea de tranvía que une "
    "el puerto con la estación, después de años de obras y de una inversión de 300 millones de "
    "euros. «Es un día de celebración», dijo ante cientos de vecinos."
)


def page(text: str, head: str = "") -> str:
    paragraphs = "".join(f"<p>{text}</p>" for _ in range(3))
    return (
        f"<!DOCTYPE html><html><head>{head}<title>News</title></head>"
        f"<body><article><h1>{text[:12]}</h1>{paragraphs}</article></body></html>"
    )


def body_text(raw: bytes, charset: str | None = None) -> str:
    return clean_html_document(raw, "page.html", charset=charset).text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (JAPANESE, "shift_jis"),
        (CHINESE, "gb2312"),
        (RUSSIAN, "koi8-r"),
        (RUSSIAN, "cp1251"),
        (FRENCH, "latin-1"),
    ],
    ids=["shift_jis", "gb2312", "koi8-r", "cp1251", "latin-1"],
)
def test_a_page_that_declares_no_encoding_is_detected(text: str, encoding: str) -> None:
    raw = page(text).encode(encoding)
    assert text in body_text(raw)
    assert decode_text(text.encode(encoding)) == text  # the same text as a .txt file


@pytest.mark.parametrize("label", ["iso-8859-1", "latin1", "ISO-8859-15", "windows-1252"])
def test_valid_utf8_under_a_single_byte_label_is_utf8(label: str) -> None:
    raw = page(SPANISH, f'<meta charset="{label}">').encode("utf-8")
    text = body_text(raw)
    assert SPANISH in text
    assert "Ã" not in text


def test_valid_utf8_under_a_single_byte_http_charset_is_utf8() -> None:
    assert SPANISH in body_text(page(SPANISH).encode("utf-8"), charset="iso-8859-1")


def test_a_real_latin1_page_still_reads_as_windows_1252() -> None:
    text = "“Quotes” and naïve café: " + SPANISH
    raw = page(text, '<meta charset="iso-8859-1">').encode("cp1252")
    assert text in body_text(raw)


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [("\ufeff".encode(), "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")],
)
def test_the_byte_order_mark_wins_over_every_label(bom: bytes, encoding: str) -> None:
    raw = bom + page(SPANISH, '<meta charset="windows-1251">').encode(encoding)
    assert SPANISH in body_text(raw, charset="koi8-r")


@pytest.mark.parametrize(
    ("text", "label", "encoding"),
    [
        # labels resolved as the WHATWG standard resolves them, not as Python's codecs do
        ("丸数字①②③と髙橋さん。" + JAPANESE, "shift_jis", "cp932"),
        (JAPANESE, "x-sjis", "cp932"),
        ("朱镕基总理。" + CHINESE, "gb2312", "gbk"),
        (
            " ".join(["서울시는 월요일 새로운 교통 계획을 발표했다. 똠방각하."] * 4),
            "ks_c_5601-1987",
            "cp949",
        ),
    ],
    ids=["shift_jis-cp932-only", "x-sjis", "gb2312-gbk-only", "ks_c_5601-1987"],
)
def test_whatwg_labels(text: str, label: str, encoding: str) -> None:
    raw = page(text, f'<meta http-equiv="Content-Type" content="text/html; charset={label}">')
    assert text in body_text(raw.encode(encoding))


def test_a_utf8_label_that_the_bytes_contradict_is_ignored() -> None:
    raw = page(SPANISH, '<meta charset="windows-1252">').encode("cp1252")
    assert SPANISH in body_text(raw, charset="utf-8")


# --- JSON-LD articleBody as a second candidate ------------------------------------------------

PARAGRAPHS = [
    "The regional parliament approved the new water law on Thursday after a debate that lasted "
    "more than nine hours and ended with a narrow majority of three votes.",
    "The law caps the amount of groundwater that farms may pump each summer and sets up a fund "
    "to repair leaking municipal pipes, which lose almost a quarter of the supply.",
    "Farmers' associations protested outside the building during the vote, saying the caps "
    "would force smaller farms to give up irrigated crops within a few years.",
    "The environment minister said the measures were overdue after three dry summers in a row "
    "had left several reservoirs at less than a fifth of their capacity.",
    "The opposition announced it would challenge two articles of the law before the "
    "constitutional court, arguing that they interfere with existing water rights.",
    "Under the new rules, every well deeper than forty metres must be fitted with a meter by "
    "the end of next year, and the readings will be published online each month.",
    "Cities that cut their pipe losses by half within five years will receive a bonus from "
    "the fund, which is financed by a small surcharge on industrial water bills.",
    "Several mayors welcomed the fund but warned that the surcharge could push some factories "
    "to move across the border, where water is cheaper and the rules are looser.",
    "Scientists from the regional university said the caps were a first step, but that the "
    "aquifers would need at least two decades of lower pumping to recover.",
    "The law enters into force on the first of January, and the first caps apply from the "
    "summer after, giving farms one season to adapt their crops and equipment.",
]


def json_ld_page(visible: list[str], article_body: str) -> bytes:
    import json

    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Parliament passes water law",
        "articleBody": article_body,
    }
    paragraphs = "".join(f"<p>{p}</p>" for p in visible)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Parliament passes water law</title>"
        f'<script type="application/ld+json">{json.dumps(data)}</script></head>'
        '<body><nav><a href="/">Home</a></nav><article><h1>Parliament passes water law</h1>'
        f'{paragraphs}<div id="rest-of-story"></div></article>'
        "<footer>Copyright 2024 Example News</footer></body></html>"
    ).encode()


def test_article_body_replaces_an_extraction_that_kept_a_fraction_of_it() -> None:
    # the page renders only the first paragraphs in its HTML; the rest comes from a script
    raw = json_ld_page(PARAGRAPHS[:3], "\n".join(PARAGRAPHS))
    cleaned = clean_html_document(raw, "teaser.html")
    assert cleaned.page["body_source"] == "structured"
    assert [block.text for block in cleaned.blocks] == PARAGRAPHS


def test_a_teaser_article_body_does_not_replace_the_extracted_text() -> None:
    raw = json_ld_page(PARAGRAPHS, PARAGRAPHS[0])
    cleaned = clean_html_document(raw, "full.html")
    assert cleaned.page["body_source"] == "extracted"
    assert [block.text for block in cleaned.blocks] == PARAGRAPHS


def test_article_body_markup_and_entities_are_read_as_text() -> None:
    body = "".join(f"<p>{p.replace('and', '&amp;')}</p>" for p in PARAGRAPHS)
    raw = json_ld_page(PARAGRAPHS[:3], body)
    cleaned = clean_html_document(raw, "markup.html")
    assert [block.text for block in cleaned.blocks] == [p.replace("and", "&") for p in PARAGRAPHS]


@pytest.mark.parametrize(
    "head", ["", '<meta charset="windows-1252">'], ids=["undeclared", "cp1252"]
)
def test_utf8_with_a_stray_legacy_byte_is_utf8(head: str) -> None:
    # a UTF-8 page with one "für" pasted in from a windows-1252 source
    raw = (
        page(SPANISH, head)
        .encode("utf-8")
        .replace(b"</article>", b"<p>Gr\xfc\xdfe f\xfcr alle Leserinnen und Leser.</p></article>")
    )
    text = body_text(raw)
    assert SPANISH in text
    assert "Grüße für alle Leserinnen und Leser." in text


# --- blocks: nested tables and line breaks inside inline markup -------------------------------


def test_nested_tables_and_inline_line_breaks_keep_word_boundaries() -> None:
    from lxml import etree
    from newsledger.tasks.clean import _blocks_from_body

    body = etree.fromstring(
        "<body><p><hi>first line<lb/>second line</hi> and more</p>"
        "<table><row><cell><table><row><cell>Mo</cell><cell>Tu</cell></row></table></cell>"
        "<cell>outer</cell></row></table>"
        "<list><item>fruit<list><item>apple</item><item>pear</item></list></item></list>"
        "<quote><th>October 2020</th><td>Mo</td><td>Tu</td></quote>"
        "loose tail text</body>"
    )
    blocks = [(block.kind, block.text) for block in _blocks_from_body(body, None)]
    assert blocks == [
        ("paragraph", "first line second line and more"),
        ("table", "Mo | Tu | outer"),
        ("list", "fruit"),
        ("list", "apple"),
        ("list", "pear"),
        ("quote", "October 2020 Mo Tu"),
        ("paragraph", "loose tail text"),
    ]


# --- the extractor version: a changed extractor re-extracts, an unchanged page adds nothing ----


def test_reingesting_an_unchanged_page_adds_no_revision(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "bridge.html").write_text(LOOSE_TEXT_PAGE, encoding="utf-8")
    db = tmp_path / "ledger.duckdb"
    pages = [str(tmp_path / "pages")]
    # an older extractor stored the page (fast mode: a different extractor version) …
    runs = [ingest_paths(pages, Settings(db=db, extraction_mode="fast"))]
    # … the default extractor re-extracts it (same text: no revision), then skips it
    runs += [ingest_paths(pages, Settings(db=db)) for _ in "12"]
    assert [(r.new, r.revised, r.unchanged) for r in runs] == [(1, 0, 0), (0, 0, 1), (0, 0, 1)]
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM revisions").fetchone() == (1,)
        versions = conn.execute(
            "SELECT extractor_version FROM observations ORDER BY observed_at"
        ).fetchall()
    assert Settings().extraction_mode == DEFAULT_EXTRACTION_MODE == "precise"
    assert [v for (v,) in versions] == [
        extractor_version("html", "fast"),
        extractor_version("html"),
        extractor_version("html"),
    ]
    assert extractor_version("html").startswith(f"html-{EXTRACTOR_REVISION}-precise+")


def test_soft_hyphens_and_zero_width_spaces_are_not_text() -> None:
    hyphenated = (
        PARAGRAPHS[0]
        .replace("parliament", "par\u00adlia\u00adment")
        .replace("debate", "de\u200bbate")
    )
    raw = json_ld_page([hyphenated, *PARAGRAPHS[1:]], PARAGRAPHS[1])
    assert clean_html_document(raw, "hyphens.html").blocks[0].text == PARAGRAPHS[0]


# --- the shown text beside an articleBody is compared ------------------------------------------


def test_an_edit_of_the_shown_page_beside_its_article_body_makes_a_revision(
    tmp_path: Path,
) -> None:
    # the text stored is the articleBody (the page shows only part of it); an edit of a shown
    # paragraph that the structured data does not carry is still an edit of the story
    pages = tmp_path / "pages"
    pages.mkdir()
    article_body = "\n".join(PARAGRAPHS)
    (pages / "teaser.html").write_bytes(json_ld_page(PARAGRAPHS[:3], article_body))
    db = tmp_path / "ledger.duckdb"
    runs = [ingest_paths([str(pages)], Settings(db=db)) for _ in "12"]
    edited = [*PARAGRAPHS[:2], PARAGRAPHS[2].replace("a few years", "two years")]
    (pages / "teaser.html").write_bytes(json_ld_page(edited, article_body))
    runs.append(ingest_paths([str(pages)], Settings(db=db)))
    assert [(r.new, r.revised, r.unchanged) for r in runs] == [(1, 0, 0), (0, 0, 1), (0, 1, 0)]
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            "SELECT text, changed_fields, json_extract_string(metadata, '$.visible_text') "
            "FROM revisions ORDER BY revision"
        ).fetchall()
    assert [text for text, _, _ in rows] == ["\n\n".join(PARAGRAPHS)] * 2  # articleBody kept
    assert list(rows[1][1]) == ["visible_text"]
    assert "two years" in rows[1][2] and "a few years" in rows[0][2]
