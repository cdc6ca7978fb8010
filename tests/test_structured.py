"""Structured data first: JSON-LD / meta tags, titles without site names, clean author lists."""

from __future__ import annotations

import trafilatura
from newsledger.tasks.clean import clean_html_document
from newsledger.tasks.metadata import describe
from newsledger.tasks.models import SourceDocument
from newsledger.tasks.structured import extract_structured, split_names, strip_site_name

BODY = "<p>" + " ".join(["The council met on Tuesday to debate the new budget plan."] * 12) + "</p>"


def page(head: str) -> bytes:
    return f"<html><head>{head}</head><body><article>{BODY}</article></body></html>".encode()


def tree(head: str):  # type: ignore[no-untyped-def]
    return trafilatura.load_html(page(head).decode())


GRAPH = """<title>Budget passes - National | Globalnews.ca</title>
<meta property="og:site_name" content="Globalnews.ca">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[
 {"@type":"WebSite","name":"Globalnews.ca"},
 {"@type":"NewsArticle","headline":"Budget passes","datePublished":"2024-05-01T10:15:00+02:00",
  "dateModified":"2024-05-02T08:00:00Z",
  "author":[{"@type":"Person","name":"By Jane Roe"},{"@type":"Organization","name":"Global News"},
            {"@type":"Person","name":"Art Edwards says"}],
  "publisher":{"@type":"Organization","name":"Global News"},"articleSection":"Politics"}]}
</script>"""


def test_graph_headline_persons_only_and_offsets() -> None:
    data = extract_structured(tree(GRAPH))
    assert data.headline == "Budget passes"
    assert data.authors == ("Jane Roe", "Art Edwards")
    assert data.outlet == "Global News"
    assert data.published is not None and data.published.isoformat() == "2024-05-01T10:15:00+02:00"
    assert data.section == "Politics"


def test_describe_uses_structured_data() -> None:
    document = SourceDocument(
        kind="html", source="p.html", raw=page(GRAPH), identity="p.html", raw_hash="x"
    )
    article = describe(document, clean_html_document(page(GRAPH)))
    assert article.title == "Budget passes"
    assert article.authors == ("Jane Roe", "Art Edwards")
    assert "Global News" not in article.authors
    assert article.metadata["published_at_iso"] == "2024-05-01T10:15:00+02:00"
    assert article.metadata["modified_at_iso"] == "2024-05-02T08:00:00+00:00"
    assert str(article.published_at) == "2024-05-01"


def test_array_and_malformed_json_ld_never_fail() -> None:
    head = """<script type="application/ld+json">{"@type": "NewsArticle", broken</script>
<script type="application/ld+json">[{"@type":"BreadcrumbList"},
 {"@type":["ReportageNewsArticle"],"headline":"Flood warning","author":"Autor Monika Bolliger"}]
</script>"""
    data = extract_structured(tree(head))
    assert data.headline == "Flood warning"
    assert data.authors == ("Monika Bolliger",)


def test_meta_author_when_no_json_ld_and_outlet_dropped() -> None:
    head = """<meta property="og:site_name" content="Deutsche Welle">
<meta name="author" content="Deutsche Welle, Anna Schmidt und Paul Weber">"""
    assert extract_structured(tree(head)).authors == ("Anna Schmidt", "Paul Weber")


def test_site_name_prefix_and_suffix_in_several_languages() -> None:
    assert strip_site_name("Vláda schválila rozpočet - Seznam Zprávy", ["Seznam Zprávy"]) == (
        "Vláda schválila rozpočet"
    )
    assert (
        strip_site_name("Le Monde | Le budget est adopté", ["Le Monde"]) == "Le budget est adopté"
    )
    assert strip_site_name("Budget passes - National | Globalnews.ca", ["Globalnews.ca"]) == (
        "Budget passes - National"
    )
    assert strip_site_name("Rivers rise: what next", ["Daily Planet"]) == "Rivers rise: what next"


def test_author_lists_in_usual_forms() -> None:
    assert split_names("By Tal Shalev and Dana Karni") == ["Tal Shalev", "Dana Karni"]
    assert split_names("Von Anna Schmidt und Paul Weber") == ["Anna Schmidt", "Paul Weber"]
    assert split_names("Par Jean Dupont et Marie Curie") == ["Jean Dupont", "Marie Curie"]
    assert split_names("Jane Roe (jane@example.com), John Doe") == ["Jane Roe", "John Doe"]


def test_a_day_first_publication_meta_tag_wins_over_htmldate() -> None:
    # htmldate reads neither the hyphenated name nor the day-first form, and picks another
    # date of the page (the "last modified" of its footer); the page's own statement wins
    head = '<meta name="vr:published-time" content="18.10.2019 17:08">'
    body = "<footer><p>Zuletzt geändert: 2019-11-19</p></footer>"
    raw = page(head).replace(b"</article>", b"</article>" + body.encode())
    data = extract_structured(trafilatura.load_html(raw.decode()))
    assert data.meta_published is not None
    assert data.meta_published.isoformat() == "2019-10-18T17:08:00"
    document = SourceDocument(
        kind="html", source="p.html", raw=raw, identity="p.html", raw_hash="x"
    )
    article = describe(document, clean_html_document(raw))
    assert str(article.published_at) == "2019-10-18"
    assert article.published_time_known is False  # no offset stated: the time is not kept
    for value in ("2019-10-18", "Oct 18, 2019", "18.10.19"):  # not day-first dd.mm.yyyy
        head = f'<meta name="vr:published-time" content="{value}">'
        assert extract_structured(tree(head)).meta_published is None
    assert (
        extract_structured(tree('<meta name="date" content="18.10.2019">')).meta_published is None
    )


def described_page(head: str, body: str = ""):  # type: ignore[no-untyped-def]
    raw = page(head).replace(b"<article>", b"<article>" + body.encode())
    document = SourceDocument(
        kind="html", source="p.html", raw=raw, identity="p.html", raw_hash="x"
    )
    return describe(document, clean_html_document(raw))


def test_the_time_and_offset_come_from_any_statement_on_the_chosen_day() -> None:
    # before: only JSON-LD datePublished / article:published_time gave a time of day; a page
    # stating its time in microdata or a <time> element kept a date alone
    body = '<p class="meta"><time datetime="2021-03-04T09:30:00+01:00">4 March 2021</time></p>'
    article = described_page('<meta name="date" content="2021-03-04">', body)
    assert str(article.published_at) == "2021-03-04"
    assert article.metadata["published_at_iso"] == "2021-03-04T09:30:00+01:00"
    assert article.published_time_known is True
    micro = '<meta itemprop="datePublished" content="2021-03-04T18:05:00-05:00">'
    article = described_page(micro)
    assert article.metadata["published_at_iso"] == "2021-03-04T18:05:00-05:00"
    # a time on another day than the publication day is not its time
    other = '<p><time datetime="2021-03-09T10:00:00+01:00">9 March</time></p>'
    article = described_page('<meta name="date" content="2021-03-04">', other)
    assert str(article.published_at) == "2021-03-04"
    assert "published_at_iso" not in article.metadata


def test_an_instant_stated_in_utc_and_in_local_time_takes_the_local_day() -> None:
    # 02:11 UTC on the 9th is 21:11 on the 8th where the page is published, as its own
    # <time> element says: the stated day is the 8th (before: the UTC day, the 9th)
    head = """<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",
      "datePublished":"2023-11-09T02:11:03+00:00"}</script>"""
    body = (
        '<p><time datetime="2023-11-08T21:11:03-05:00" itemprop="datePublished">'
        "November 8, 2023</time></p>"
    )
    article = described_page(head, body)
    assert str(article.published_at) == "2023-11-08"
    assert article.metadata["published_at_iso"] == "2023-11-08T21:11:03-05:00"
    # the UTC statement alone: its day stays (the page states no local time)
    assert str(described_page(head).published_at) == "2023-11-09"
