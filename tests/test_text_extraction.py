"""HTML text extraction keeps every piece of text trafilatura keeps, and pages are decoded as
browsers decode them (WHATWG labels, BOM first, no mojibake from UTF-8, undeclared pages
detected)."""

from __future__ import annotations

import pytest
import trafilatura
from newsledger.tasks.clean import clean_html_document

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
