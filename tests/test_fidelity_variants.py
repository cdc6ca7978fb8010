"""The base/variant generators of the change-fidelity benchmark, on a hand-written page: each
noise kind leaves the article (title and body paragraphs) exactly as it was, each edit kind
changes exactly what it says."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import lxml.html
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
import fidelity_variants as fv

PARAGRAPHS = [
    "The city council voted on Monday to close the old harbour bridge to heavy traffic.",
    "Engineers found 14 cracked girders during an inspection in the spring, the report says.",
    "Residents of the northern district will have to drive an extra 9 kilometres each way.",
    "The mayor said a replacement bridge could open in 2029 if the state pays its share.",
]
PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">
<title>Harbour bridge closes to lorries | The Coastal Tribune</title>
<meta property="og:title" content="Harbour bridge closes to lorries">
<script type="application/ld+json">{{"@type": "NewsArticle",
 "headline": "Harbour bridge closes to lorries"}}</script>
</head><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1 class="headline" id="top">Harbour <em>bridge</em> closes to lorries</h1>
<div class="body">
{"".join(f"<p class='para' data-n='{i}'>{text}</p>" for i, text in enumerate(PARAGRAPHS))}
</div></article><footer>(c) The Coastal Tribune</footer></body></html>
"""


def page() -> fv.Page:
    raw = fv.normalise(PAGE.encode("utf-8"))
    spec = fv.locate("p.html", "p.html", "p.html", raw, "\n".join(PARAGRAPHS))
    spec = fv.PageSpec(
        spec.name,
        spec.source,
        spec.label,
        spec.paragraphs,
        spec.headline,
        (("Older story one", "Older story two", "Older story three"), ("Other", "Next", "Last")),
    )
    return fv.load_page(spec, raw)


def article(html: bytes) -> tuple[str, list[str], str]:
    """(h1 text, body paragraph texts, <title>) of a generated page."""
    root = lxml.html.document_fromstring(html.decode("utf-8"))
    body = [fv.squash(p.text_content()) for p in root.xpath("//div[@class='body']/p")]
    return fv.squash(root.xpath("//h1")[0].text_content()), body, root.findtext(".//title")


def test_locate_finds_the_body_paragraphs_and_the_headline() -> None:
    located = page()
    assert len(located.paragraphs) == 4
    assert located.headline == "Harbour bridge closes to lorries"


def test_pages_are_written_as_utf8_with_one_charset_declaration() -> None:
    base, _variant = fv.update_note(page(), random.Random(1))
    assert base == fv.normalise(PAGE.encode("utf-8")) == fv.normalise(base)
    assert base.count(b"charset") == 1 and b'<meta charset="utf-8">' in base
    assert article(base)[1] == PARAGRAPHS


@pytest.mark.parametrize("kind", sorted(fv.NOISE))
def test_noise_kinds_change_the_page_but_not_the_article(kind: str) -> None:
    base, variant = fv.NOISE[kind](page(), random.Random(1))
    assert base != variant
    assert article(base) == article(variant)
    assert article(base)[1] == PARAGRAPHS


def test_reflow_keeps_the_rendered_text_and_reverses_attribute_order() -> None:
    base, variant = fv.reflow(page(), random.Random(1))
    text = lambda html: fv.squash(lxml.html.document_fromstring(html).text_content())  # noqa: E731
    assert text(base) == text(variant)
    assert b'<p class="para" data-n="1">' in base
    assert b'<p data-n="1" class="para">' in variant


def test_slot_kinds_differ_only_in_their_slot() -> None:
    pairs = {kind: fv.NOISE[kind](page(), random.Random(1)) for kind in fv.NOISE}
    assert b"12 comments" in pairs["comment_count"][0]
    assert b"13 comments" in pairs["comment_count"][1]
    assert pairs["page_time"][0].count(b"Page generated 12:03") == 2
    assert pairs["page_time"][1].count(b"Page generated 12:07") == 2
    assert b"Older story one" in pairs["related_box"][0]
    assert b"Older story one" not in pairs["related_box"][1]
    assert b"Acme Mutual" in pairs["ad_slot"][0] and b"Acme Mutual" not in pairs["ad_slot"][1]


def test_update_note_is_appended_after_the_last_paragraph() -> None:
    _base, variant = fv.update_note(page(), random.Random(1))
    assert article(variant)[1] == [*PARAGRAPHS, fv.UPDATE_NOTE]


def test_changed_number_changes_the_deepest_number_after_the_lead() -> None:
    _base, variant = fv.changed_number(page(), random.Random(1))
    body = article(variant)[1]
    assert body[:3] == PARAGRAPHS[:3]
    assert body[3] == PARAGRAPHS[3].replace("2029", "2030")


def test_dropped_paragraph_removes_the_middle_or_the_last_one() -> None:
    seen = set()
    for seed in range(12):
        body = article(fv.dropped_paragraph(page(), random.Random(seed))[1])[1]
        assert len(body) == 3
        seen.add(next(p for p in PARAGRAPHS if p not in body))
    assert seen == {PARAGRAPHS[2], PARAGRAPHS[3]}


def test_new_headline_changes_title_h1_og_and_json_ld() -> None:
    _base, variant = fv.new_headline(page(), random.Random(1))
    h1, body, title = article(variant)
    new = "Harbour bridge closes to lorries" + fv.HEADLINE_SUFFIX
    assert h1 == new and body == PARAGRAPHS
    assert title == new + " | The Coastal Tribune"
    assert f'content="{new}"'.encode() in variant
    assert f'"headline": "{new}"'.encode() in variant


def test_changed_word_changes_one_word_of_the_last_paragraph() -> None:
    _base, variant = fv.changed_word(page(), random.Random(1))
    body = article(variant)[1]
    assert body[:3] == PARAGRAPHS[:3]
    old, new = PARAGRAPHS[3].split(), body[3].split()
    assert len(old) == len(new)
    assert sum(a != b for a, b in zip(old, new, strict=True)) == 1


def custom_page(head: str, top: str, paragraphs: list[str] = PARAGRAPHS) -> fv.Page:
    html = (
        f"<!DOCTYPE html><html><head>{head}</head><body>{top}<div class='body'>"
        + "".join(f"<p>{text}</p>" for text in paragraphs)
        + "</div></body></html>"
    )
    raw = fv.normalise(html.encode("utf-8"))
    spec = fv.locate("p.html", "p.html", "p.html", raw, "\n".join(fv.squash(p) for p in paragraphs))
    return fv.load_page(spec, raw)


def headings(html: bytes) -> list[str]:
    root = lxml.html.document_fromstring(html.decode("utf-8"))
    return [fv.squash(h.text_content()) for h in root.xpath("//h1 | //h2 | //h3")]


def test_new_headline_edits_the_shown_headline_not_a_site_name_h1() -> None:
    """A first <h1> that is the site's name (and in the title beside the headline), and a
    headline <h1> written with a typographic apostrophe where og:title has "'": the
    headline <h1> changes (measured: the edit went into the site name's <h1> before)."""
    head = (
        "<title>Antonin's case | Revolution Permanente</title>"
        "<meta property='og:site_name' content='Revolution Permanente'>"
        "<meta property='og:title' content=\"Antonin's case\">"
    )
    top = "<h1>Revolution Permanente</h1><h1>Antonin\u2019s case</h1>"
    _base, variant = fv.new_headline(custom_page(head, top), random.Random(1))
    assert headings(variant) == [
        "Revolution Permanente",
        "Antonin\u2019s case" + fv.HEADLINE_SUFFIX,
    ]
    root = lxml.html.document_fromstring(variant.decode("utf-8"))
    assert (
        root.findtext(".//title")
        == "Antonin's case" + fv.HEADLINE_SUFFIX + " | Revolution Permanente"
    )


def test_new_headline_edits_a_headline_h2_and_the_headline_part_of_site_first_titles() -> None:
    head = "<title>Gregory's Digital Home | Journey to Python 3</title>"
    top = "<h2 class='post-title'>Journey to Python 3</h2><h2>Categories</h2>"
    _base, variant = fv.new_headline(custom_page(head, top), random.Random(1))
    assert headings(variant) == ["Journey to Python 3" + fv.HEADLINE_SUFFIX, "Categories"]
    root = lxml.html.document_fromstring(variant.decode("utf-8"))
    assert (
        root.findtext(".//title")
        == "Gregory's Digital Home | Journey to Python 3" + fv.HEADLINE_SUFFIX
    )


def test_a_page_showing_no_headline_its_title_names_gets_no_headline_edit() -> None:
    """A portal's "Startseite: …" title over section-name <h1>s: no headline to edit."""
    head = "<title>Startseite: Offizielles Internetangebot der Stadt</title>"
    top = "<h1>Rathaus</h1><h1>Leben in der Stadt</h1>"
    with pytest.raises(fv.NotUsable):
        fv.new_headline(custom_page(head, top), random.Random(1))


def test_reflow_keeps_a_paragraph_holding_a_control_character() -> None:
    """lxml parses U+001D in a page's text but refuses to set it: the reflowed variant kept an
    empty paragraph in its place before (measured on a corpus page)."""
    paragraphs = [
        *PARAGRAPHS[:2],
        "Denn bei aller Liebe f\u00fcr das Sch\u00f6ne \x1d ist sie sich nie zu schade.",
        PARAGRAPHS[3],
    ]
    base, variant = fv.reflow(
        custom_page("<title>T</title>", "<h1>T</h1>", paragraphs), random.Random(1)
    )
    text = lambda html: fv.squash(lxml.html.document_fromstring(html).text_content())  # noqa: E731
    assert "nie zu schade" in text(variant)
    assert text(base) == text(variant)


def test_new_headline_finds_the_headline_inside_a_longer_title_with_other_dashes() -> None:
    """og:title "Bag - Title - Author - Site" and an <h1> "Bag – Title": the <h1> and its span
    in the title fields change, not the author's name (measured on a corpus page)."""
    head = (
        "<title>Mystery Bag - every woman needs a secret! - Martina Berg - Lady 50plus</title>"
        "<meta property='og:title' content='Mystery Bag - every woman needs a secret! - "
        "Martina Berg - Lady 50plus'>"
    )
    top = (
        "<h1>Mystery Bag \u2013 every woman needs a secret!</h1><h3><span>Martina Berg</span></h3>"
    )
    _base, variant = fv.new_headline(custom_page(head, top), random.Random(1))
    new = "Mystery Bag \u2013 every woman needs a secret!" + fv.HEADLINE_SUFFIX
    assert headings(variant) == [new, "Martina Berg"]
    root = lxml.html.document_fromstring(variant.decode("utf-8"))
    assert root.findtext(".//title") == (
        "Mystery Bag - every woman needs a secret!"
        + fv.HEADLINE_SUFFIX
        + " - Martina Berg - Lady 50plus"
    )
