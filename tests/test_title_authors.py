"""Titles and authors as a reader would cite them: one hand-written page per rule (each of
these failed before the rule was added)."""

from __future__ import annotations

import trafilatura
from newsledger.tasks.clean import clean_html_document
from newsledger.tasks.metadata import describe
from newsledger.tasks.models import SourceDocument
from newsledger.tasks.structured import (
    author_list,
    choose_title,
    extract_structured,
    split_names,
)

BODY = "<p>" + " ".join(["The council met on Tuesday to debate the new budget plan."] * 12) + "</p>"


def page(head: str, body: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}<article>{BODY}</article></body></html>"


def structured(head: str, body: str = ""):  # type: ignore[no-untyped-def]
    return extract_structured(trafilatura.load_html(page(head, body)))


def described(head: str, body: str = "", url: str | None = None):  # type: ignore[no-untyped-def]
    raw = page(head, body).encode()
    document = SourceDocument(
        kind="html", source="p.html", raw=raw, identity="p.html", raw_hash="x", url=url
    )
    return describe(document, clean_html_document(raw, url=url))


# --- authors ---------------------------------------------------------------------------------

YOAST = """<script type="application/ld+json">{"@context":"https://schema.org","@graph":[
 {"@type":"Article","@id":"https://blog.example/a/#article","headline":"Fifteen years",
  "author":{"@id":"https://blog.example/#/schema/person/d728a0da"},
  "publisher":{"@id":"https://blog.example/#/schema/person/d728a0da"}},
 {"@type":["Person","Organization"],"@id":"https://blog.example/#/schema/person/d728a0da",
  "name":"Andreas Kalt","url":"https://blog.example/author/andreas/"}]}</script>"""


def test_json_ld_author_given_by_id_is_the_person_in_the_graph() -> None:
    # before: the @id URL itself became the "name" ("https", "schema", "person", …)
    assert structured(YOAST).authors == ("Andreas Kalt",)
    assert described(YOAST).authors == ("Andreas Kalt",)


def test_a_bare_url_is_never_an_author() -> None:
    head = """<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",
      "author":{"@id":"https://news.example/#/schema/person/404"}}</script>"""
    assert structured(head).authors == ()


def test_person_also_typed_organisation_is_kept_but_a_plain_organisation_is_not() -> None:
    head = """<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",
      "author":[{"@type":["Person","Organization"],"name":"Frau Sabienes"},
                {"@type":"Organization","name":"Example Media Group"}]}</script>"""
    assert structured(head).authors == ("Frau Sabienes",)


def test_prefixes_labels_and_placeholders_are_not_names() -> None:
    assert split_names("Zeige alle Beiträge von Petra Ruland") == ["Petra Ruland"]
    assert split_names("Zum Profil von jesusfreak") == ["jesusfreak"]
    assert split_names("Auteur Anna Kubišta") == ["Anna Kubišta"]
    assert split_names("Interview Julia Lauter") == ["Julia Lauter"]
    assert split_names("Artikel von:") == []
    assert split_names("Name") == []
    assert split_names("No Author") == []
    assert split_names("Redaktion") == []


def test_organisations_by_legal_form_or_domain_are_left_out_whole() -> None:
    assert split_names("Hanns-Seidel-Stiftung e. V.") == []
    assert split_names("Frankfurter Allgemeine Zeitung GmbH; Benjamin Fischer") == [
        "Benjamin Fischer"
    ]
    assert split_names("finanztreff.de") == []
    assert split_names("Mdr De") == []  # trafilatura's spelling of the domain mdr.de


def test_handles_emails_and_unclosed_brackets_are_cut() -> None:
    assert split_names("Williams Perdomo @wperdomod") == ["Williams Perdomo"]
    assert split_names("Deutsche Welle (") == ["Deutsche Welle"]
    assert split_names("cipha[at]cipha.net") == []


def test_lists_in_usual_forms_and_languages() -> None:
    assert split_names("Matthias Hille - Lukas Balbach") == ["Matthias Hille", "Lukas Balbach"]
    assert split_names("Richard David Precht im Gespräch mit Karin Fischer") == [
        "Richard David Precht",
        "Karin Fischer",
    ]
    assert split_names("Isabel Caro, Rocío Latorre y José Wilson") == [
        "Isabel Caro",
        "Rocío Latorre",
        "José Wilson",
    ]
    assert split_names("E. Barreneche / J. I. da Silva") == ["E. Barreneche", "J. I. da Silva"]


def test_outlet_as_one_part_of_the_site_name_or_the_host_is_dropped() -> None:
    assert author_list(["Die FURCHE"], {"Achtsam durch die Krise | Die FURCHE"}) == []
    assert author_list(["Auto-Motor"], set(), {"www.auto-motor.at"}) == []
    assert author_list(["Jobs; Hire"], {"Jobs & Hire"}) == []
    # a person whose blog is at their own name stays an author
    assert author_list(["Wolfgang Michal"], set(), {"wolfgangmichal.de"}) == ["Wolfgang Michal"]


def test_json_ld_entities_are_decoded() -> None:
    head = """<script type="application/ld+json">{"@type":"NewsArticle",
      "headline":"Olive &#038; Herb Focaccia","author":{"@type":"Person",
      "name":"Redacci&oacute;n Central"}}</script>"""
    data = structured(head)
    assert data.headline == "Olive & Herb Focaccia"
    assert data.authors == ("Redacción Central",)


BYLINE = """<div class="entry-meta"><span class="meta-prep meta-prep-author">Posted on</span>
<a href="/2015/04/05/"><span class="entry-date">5. April 2015</span></a>
<span class="by-author"> by <span class="author vcard"><a class="url fn n" href="/author/marc/">
marc</a></span></span></div>"""
COMMENTS = """<ol class="commentlist"><li class="comment">
<div class="comment-author vcard">Anhora sagt:</div><p>Toll!</p></li></ol>"""


def test_byline_element_when_the_page_states_no_author_elsewhere() -> None:
    assert structured("", BYLINE).byline_authors == ("marc",)
    assert structured("", COMMENTS).byline_authors == ()  # a commenter is not the author
    dated = '<span class="byline">von Jörn Mecher am 08.12.2022</span>'
    assert structured("", dated).byline_authors == ("Jörn Mecher",)
    assert (
        structured("", '<div class="authorWrapper">Stand: 20. April 2020</div>').byline_authors
        == ()
    )


# --- titles ----------------------------------------------------------------------------------


def test_h1_confirmed_by_the_title_wins_over_a_kicker_headline() -> None:
    head = """<title>Nutzerbasierte Abrechnung: Musik-Stars fordern neues Modell | NZZ</title>
    <meta property="og:site_name" content="NZZ">
    <script type="application/ld+json">{"@type":"NewsArticle",
      "headline":"Musik-Stars fordern neues Modell"}</script>"""
    body = "<h1>Nutzerbasierte Abrechnung: Musik-Stars fordern neues Modell</h1>"
    assert (
        described(head, body).title == "Nutzerbasierte Abrechnung: Musik-Stars fordern neues Modell"
    )


def test_h1_plus_site_name_in_the_title_gives_the_h1() -> None:
    head = """<meta property="og:title" content="Kondenswasser am Fenster verhindern - Tipps">"""
    body = "<h1>Kondenswasser am Fenster verhindern</h1>"
    assert described(head, body).title == "Kondenswasser am Fenster verhindern"


def test_h1_that_is_the_site_name_is_not_the_title() -> None:
    head = """<title>Podcasts in Plex einbinden | Disfunctions.de</title>
    <meta property="og:site_name" content="Disfunctions.de">"""
    body = "<h1>Disfunctions.de</h1>"
    assert described(head, body).title == "Podcasts in Plex einbinden"


def test_site_name_from_the_host_is_stripped() -> None:
    data = structured(
        """<meta property="og:url" content="https://www.hausinfo.ch/de/a.html">
        <meta property="og:title" content="Kondenswasser am Fenster verhindern - hausinfo">"""
    )
    assert choose_title(data, None) == "Kondenswasser am Fenster verhindern"


def test_trailing_labels_after_a_name_are_cut() -> None:
    assert split_names("Sara Zinnecker Stand") == ["Sara Zinnecker"]
    assert split_names("Amber Guetebier Shares") == ["Amber Guetebier"]
    assert split_names("Rocío Latorre y José Miguel Wilson Tiempo de lectura: 4 minutos") == [
        "Rocío Latorre",
        "José Miguel Wilson",
    ]


def test_byline_element_naming_more_authors_than_json_ld_wins() -> None:
    head = """<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",
      "author":{"@type":"Person","name":"Sadhbh O'Sullivan"}}</script>"""
    body = '<p class="byline">By Sadhbh O\'Sullivan and Elisabeth Kochan</p>'
    assert described(head, body).authors == ("Sadhbh O'Sullivan", "Elisabeth Kochan")
    roles = """<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",
      "author":{"@type":"Person","name":"FOCUS-Online-Experte Robin Tschöpe"}}</script>"""
    byline = '<span class="author-name">Robin Tschöpe</span>'
    assert described(roles, byline).authors == ("Robin Tschöpe",)


# --- bylines stated in words (EXTRACTOR_REVISION 6) -----------------------------------------


def test_byline_stated_in_words_when_nothing_else_names_an_author() -> None:
    assert described("", "<p><em>Von <span>Erna Beispiel</span></em></p>").authors == (
        "Erna Beispiel",
    )
    assert described("", "<p><em>Written by: <a href='/x'>Jo Example</a></em></p>").authors == (
        "Jo Example",
    )
    dated = '<div class="meta">Ein Artikel von <b>Ada Muster</b> | 27.01.2022 - 12:45</div>'
    assert described("", dated).authors == ("Ada Muster",)
    weekday = "<div>Von Lisa Probe Mi, 18. Oktober 2023 um 12:50 Uhr</div>"
    assert described("", weekday).authors == ("Lisa Probe",)
    # a role after the name, a date after a comma, particles inside the name
    role = "<p><strong>Autorin: Uta Probe, Projektleiterin der Stiftung in Tunis.</strong></p>"
    assert described("", role).authors == ("Uta Probe",)
    assert described("", "<div>par Didier Exemple , 21 juin 2018</div>").authors == (
        "Didier Exemple",
    )
    assert described("", "<div>By&nbsp;<a>Jose de la Prueba</a></div>").authors == (
        "Jose de la Prueba",
    )


def test_byline_label_element_followed_by_the_name() -> None:
    assert described("", "<div><h5>Autor: </h5>Peter Probe/SP-X</div>").authors == ("Peter Probe",)
    assert described("", "<div><b>Von:</b> <br/> Götz Beispiel</div>").authors == ("Götz Beispiel",)
    menu = "<ul><li>Autoren</li><li><a>Chemie-Lexikon</a></li></ul>"  # a menu, not a label
    assert described("", menu).authors == ()


def test_text_byline_skips_the_outlet_sentences_and_comments() -> None:
    head = '<meta property="og:site_name" content="The Example Press">'
    body = "<div>By The Example Press - January 17, 2020</div><p><em>Written by: Jo Real</em></p>"
    assert described(head, body).authors == ("Jo Real",)
    assert described("", "<p>von der Stadt geplant und gebaut</p>").authors == ()
    comment = '<ol class="commentlist"><li class="comment"><p>Von Anna Leserin</p></li></ol>'
    assert described("", comment).authors == ()


def test_dates_urls_staff_and_outlets_are_not_names() -> None:
    assert author_list(["Marie Probe, lundi 9 décembre 2019 à 09h08"], set()) == ["Marie Probe"]
    assert author_list(["Stefan Probe", "On August 3"], set()) == ["Stefan Probe"]
    assert author_list(["Frank Probe, http"], set()) == ["Frank Probe"]
    assert author_list(["Adam Probe ExampleVoice Staff"], {"ExampleVoice"}) == ["Adam Probe"]


def test_a_handle_gives_way_to_the_spelled_out_byline_name() -> None:
    head = """<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",
      "author":{"@type":"Person","name":"ariantester"}}</script>"""
    byline = '<span class="author-name">Arian Tester</span>'
    assert described(head, byline).authors == ("Arian Tester",)


def test_date_then_name_lines_autor_classes_and_redaktion_labels() -> None:
    assert described("", '<p class="muted">11.12.2019 - Amelie Probe</p>').authors == (
        "Amelie Probe",
    )
    assert described("", "<small>04.02.2022 | 13:10 Uhr | Uta Beispiel</small>").authors == (
        "Uta Beispiel",
    )
    autor = '<div class="autor"><h6>Jacobo Prueba | Publicado hace 3 horas</h6></div>'
    assert described("", autor).authors == ("Jacobo Prueba",)
    label = "<div><span>-&nbsp;Redaktion: Eberhard Probe (Pressesprecher)</span></div>"
    assert described("", label).authors == ("Eberhard Probe",)
