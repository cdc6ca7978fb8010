"""Feed list loading and feed parsing, on inline fixture documents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsledger.tasks.errors import FeedError, FeedListError
from newsledger.tasks.feeds import (
    FeedEntry,
    FeedSpec,
    ParsedFeed,
    load_feed_list,
    parse_feed,
    parse_feed_list_text,
    parse_interval,
    read_feed_list,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FEED_URL = "https://news.example.com/feeds/world.xml"


def parse(body: bytes, **kwargs: object) -> ParsedFeed:
    kwargs.setdefault("url", FEED_URL)
    kwargs.setdefault("now", NOW)
    return parse_feed(body, **kwargs)


# --- fixture documents --------------------------------------------------------------------------

RSS_20 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example World News</title>
  <link>https://news.example.com/world</link>
  <description>World stories</description>
  <item>
    <title>Summit ends &amp; leaders leave</title>
    <link>https://News.Example.com/world/2026/01/summit-ends?utm_source=rss&amp;utm_medium=feed</link>
    <guid isPermaLink="false">story-1001</guid>
    <pubDate>Wed, 14 Jan 2026 09:30:00 +0100</pubDate>
    <dc:creator>By Jane Roe and Joe Bloggs</dc:creator>
    <description>&lt;p&gt;Leaders &lt;b&gt;left&lt;/b&gt; the summit.&lt;/p&gt;
      &lt;script&gt;x()&lt;/script&gt;</description>
  </item>
  <item>
    <title>Storm hits coast</title>
    <link>https://news.example.com/world/2026/01/storm#comments</link>
    <guid>https://news.example.com/world/2026/01/storm</guid>
    <pubDate>Tue, 13 Jan 2026 18:00:00 GMT</pubDate>
    <author>desk@example.com (Weather Desk)</author>
  </item>
  <item>
    <title>Undated brief</title>
    <link>https://news.example.com/world/brief-7</link>
  </item>
</channel>
</rss>
"""

ATOM_10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/journal/">
  <title type="html">The &lt;i&gt;Journal&lt;/i&gt;</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-01-14T10:00:00Z</updated>
  <entry>
    <title>First post</title>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <link rel="alternate" href="posts/first?fbclid=abc"/>
    <published>2026-01-10T08:00:00+02:00</published>
    <updated>2026-01-11T09:15:00Z</updated>
    <author><name>Ann Author</name></author>
    <author><name>Bob Writer</name><email>bob@example.org</email></author>
    <summary type="html">&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;
      &amp;amp; friends&lt;/p&gt;</summary>
  </entry>
  <entry xml:base="/archive/">
    <title>Content only</title>
    <id>urn:uuid:2</id>
    <link href="2026/second"/>
    <updated>2026-01-12T00:00:00Z</updated>
    <content type="html">&lt;div&gt;Body &lt;em&gt;text&lt;/em&gt;&lt;/div&gt;</content>
  </entry>
  <entry>
    <title>From the future</title>
    <id>urn:uuid:3</id>
    <link href="https://blog.example.org/journal/future"/>
    <published>2099-01-01T00:00:00Z</published>
    <updated>2026-01-16T11:00:00Z</updated>
  </entry>
</feed>
"""

RSS_RELATIVE = b"""<?xml version="1.0"?>
<rss version="2.0">
<channel>
  <title>Relative</title>
  <item><title>Relative path</title><link>stories/one.html</link></item>
  <item><title>Absolute path</title><link>/top/two.html?b=2&amp;a=1</link></item>
  <item xml:base="https://cdn.example.net/base/"><title>With base</title>
        <link>three.html</link></item>
  <item><title>Permalink guid only</title>
        <guid>https://news.example.com/permalinks/four</guid></item>
  <item><title>Relative permalink guid</title>
        <guid isPermaLink="true">/permalinks/five</guid></item>
  <item><title>Bare id, no isPermaLink</title><guid>5551234</guid></item>
  <item><title>After the xml:base item</title><link>six.html</link><guid>6</guid></item>
</channel>
</rss>
"""

ILL_FORMED = b"""<?xml version="1.0"?>
<rss version="2.0">
<channel>
  <title>Broken & proud</title>
  <item><title>Good one</title><link>https://ex.com/a/1</link><guid>g1</guid></item>
  <item><title>Bad & unescaped</title><link>https://ex.com/a/2</link><guid>g2</guid></item>
  <item><title>Truncated
"""

DUPLICATES = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Dups</title>
  <item><title>First</title><link>https://ex.com/s/1</link><guid>dup-guid</guid></item>
  <item><title>Same guid, other link</title><link>https://ex.com/s/2</link><guid>dup-guid</guid></item>
  <item><title>Same link after normalisation</title>
        <link>HTTPS://EX.COM/s/1?utm_campaign=x#top</link><guid>other-guid</guid></item>
  <item><title>Distinct</title><link>https://ex.com/s/3</link><guid>g3</guid></item>
</channel></rss>
"""

JAVASCRIPT_LINKS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>JS</title>
  <item><title>Script without guid</title><link>javascript:alert(document.cookie)</link></item>
  <item><title>Script with guid</title><link>javascript:void(0)</link>
        <guid isPermaLink="false">js-guid-1</guid></item>
  <item><title>Mail</title><link>mailto:desk@example.com</link></item>
  <item><title>Normal</title><link>https://ex.com/ok</link></item>
</channel></rss>
"""

NO_LINKS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>No links</title>
  <item><title>Guid only</title><guid isPermaLink="false">urn:ex:123</guid>
        <description>Plain text</description></item>
  <item><title>Nothing at all</title><description>orphan</description></item>
</channel></rss>
"""

WINDOWS_1252 = (
    '<?xml version="1.0" encoding="windows-1252"?>\n'
    '<rss version="2.0"><channel><title>Caf\u00e9 \u2019Le Monde\u2019</title>'
    "<item><title>Na\u00efve \u201cquotes\u201d cost 5 \u20ac</title>"
    "<link>https://ex.fr/caf\u00e9/1</link>"
    "<description>\u00c0 bient\u00f4t \u2013 fin</description></item>"
    "</channel></rss>"
).encode("cp1252")

HTML_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title>Example News - Home</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>
<body><h1>Welcome</h1><p>Read our <a href="/world">world news</a>.</p></body></html>
"""


# --- RSS 2.0 ------------------------------------------------------------------------------------


def test_rss20_fields() -> None:
    feed = parse(RSS_20)
    assert feed.url == FEED_URL
    assert feed.title == "Example World News"
    assert feed.bozo is False
    assert feed.bozo_message is None
    assert feed.skipped == ()
    assert len(feed.entries) == 3

    first = feed.entries[0]
    assert isinstance(first, FeedEntry)
    assert first.guid == "story-1001"
    assert first.link == "https://news.example.com/world/2026/01/summit-ends"
    assert first.identity == first.link
    assert first.raw_link is not None and "utm_source=rss" in first.raw_link
    assert first.title == "Summit ends & leaders leave"
    assert first.published == datetime(2026, 1, 14, 8, 30, tzinfo=UTC)
    assert first.published.tzinfo is UTC
    assert first.updated is None
    assert first.authors == ("Jane Roe", "Joe Bloggs")
    assert first.summary == "Leaders left the summit."

    second = feed.entries[1]
    assert second.link == "https://news.example.com/world/2026/01/storm"
    assert second.guid == "https://news.example.com/world/2026/01/storm"
    assert second.authors == ("Weather Desk",)
    assert second.published == datetime(2026, 1, 13, 18, 0, tzinfo=UTC)
    assert second.summary is None

    third = feed.entries[2]
    assert third.guid is None
    assert third.published is None
    assert third.authors == ()
    assert third.identity == "https://news.example.com/world/brief-7"


# --- Atom 1.0 -----------------------------------------------------------------------------------


def test_atom10_fields_and_xml_base() -> None:
    feed = parse(ATOM_10)
    assert feed.title == "The Journal"
    assert feed.bozo is False
    assert [e.link for e in feed.entries] == [
        "https://blog.example.org/journal/posts/first",
        "https://blog.example.org/archive/2026/second",
        "https://blog.example.org/journal/future",
    ]
    first, second, future = feed.entries
    assert first.guid == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert first.published == datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    assert first.updated == datetime(2026, 1, 11, 9, 15, tzinfo=UTC)
    assert first.authors == ("Ann Author", "Bob Writer")
    assert first.summary == "Hello world & friends"
    # Atom <content> stands in for a missing summary; RSS-style "updated" is not invented.
    assert second.summary == "Body text"
    assert second.published is None
    assert second.updated == datetime(2026, 1, 12, tzinfo=UTC)
    # More than two days after "now": a bogus date, dropped. Within two days: kept.
    assert future.published is None
    assert future.updated == datetime(2026, 1, 16, 11, 0, tzinfo=UTC)


def test_far_future_relative_to_real_clock() -> None:
    feed = parse_feed(ATOM_10, url=FEED_URL)  # no "now": the real clock
    assert feed.entries[2].published is None


# --- relative links -----------------------------------------------------------------------------


def test_relative_links_resolve_against_feed_url() -> None:
    feed = parse(RSS_RELATIVE)
    assert [e.link for e in feed.entries] == [
        "https://news.example.com/feeds/stories/one.html",
        "https://news.example.com/top/two.html?a=1&b=2",
        "https://cdn.example.net/base/three.html",
        "https://news.example.com/permalinks/four",
        None,
        None,
        # feedparser leaks an item's xml:base into later items unless it has a base of its own
        "https://news.example.com/feeds/six.html",
    ]
    assert feed.entries[3].identity == "https://news.example.com/permalinks/four"
    # A guid is taken as the address only when it is an absolute http(s) URL; it is never
    # resolved against the feed URL (feedparser would turn "5551234" into a made-up link).
    assert [(e.guid, e.identity) for e in feed.entries[4:]] == [
        ("/permalinks/five", "guid:/permalinks/five"),
        ("5551234", "guid:5551234"),
        ("6", "https://news.example.com/feeds/six.html"),
    ]
    assert all("invalid" not in (e.raw_link or "") for e in feed.entries)


def test_content_location_header_wins_over_url() -> None:
    feed = parse(
        RSS_RELATIVE,
        headers={"Content-Location": "https://mirror.example.org/rss/index.xml"},
    )
    assert feed.entries[0].link == "https://mirror.example.org/rss/stories/one.html"
    assert feed.entries[2].link == "https://cdn.example.net/base/three.html"
    assert feed.entries[5].guid == "5551234"
    relative = parse(RSS_RELATIVE, headers={"content-location": "/mirror/feed.xml"})
    assert relative.entries[0].link == "https://news.example.com/mirror/stories/one.html"


# --- ill-formed, duplicates, bad links ---------------------------------------------------------


def test_ill_formed_feed_keeps_usable_entries() -> None:
    feed = parse(ILL_FORMED)
    assert feed.bozo is True
    assert feed.bozo_message
    assert feed.entries, "feedparser recovers entries from ill-formed XML"
    assert feed.entries[0].link == "https://ex.com/a/1"
    assert feed.entries[0].title == "Good one"
    assert all(e.identity for e in feed.entries)


def test_duplicates_by_guid_or_normalised_link_keep_the_first() -> None:
    feed = parse(DUPLICATES)
    assert [e.title for e in feed.entries] == ["First", "Distinct"]
    assert [e.identity for e in feed.entries] == ["https://ex.com/s/1", "https://ex.com/s/3"]
    assert feed.entries[0].guid == "dup-guid"
    reasons = dict(feed.skipped)
    # a guid repeated with another link names both links (issue 13, defect 7)
    assert reasons["dup-guid"].startswith("duplicate: same guid as entry #1 (its link ")
    assert "https://ex.com/s/1" in reasons["dup-guid"]
    assert reasons["other-guid"] == "duplicate: same link as entry #1"


def test_javascript_links() -> None:
    feed = parse(JAVASCRIPT_LINKS)
    assert [(e.title, e.identity, e.link) for e in feed.entries] == [
        ("Script with guid", "guid:js-guid-1", None),
        ("Normal", "https://ex.com/ok", "https://ex.com/ok"),
    ]
    assert feed.entries[0].raw_link == "javascript:void(0)"
    assert len(feed.skipped) == 2
    (label1, reason1), (label2, reason2) = feed.skipped
    assert label1.startswith("javascript:alert")
    assert "not an http(s) URL" in reason1 and "no guid" in reason1
    assert label2 == "mailto:desk@example.com"
    assert "no guid" in reason2


def test_entries_without_link_use_guid_identity() -> None:
    feed = parse(NO_LINKS)
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    assert entry.link is None
    assert entry.raw_link is None
    assert entry.guid == "urn:ex:123"
    assert entry.identity == "guid:urn:ex:123"
    assert entry.summary == "Plain text"
    assert feed.skipped == (("Nothing at all", "no link and no guid"),)


# --- encodings ------------------------------------------------------------------------------


def test_windows_1252_declared_feed() -> None:
    feed = parse(WINDOWS_1252, headers={"Content-Type": "application/rss+xml"})
    assert feed.bozo is False
    assert feed.title == "Café ’Le Monde’"
    entry = feed.entries[0]
    assert entry.title == "Naïve “quotes” cost 5 €"
    assert entry.summary == "À bientôt – fin"
    assert entry.link == "https://ex.fr/caf%C3%A9/1"


def test_windows_1252_with_wrong_http_charset_still_decodes() -> None:
    feed = parse(WINDOWS_1252, headers={"Content-Type": "text/xml"})  # RFC 3023: us-ascii
    assert feed.entries[0].title == "Naïve “quotes” cost 5 €"
    assert feed.bozo is True  # feedparser reports the override
    assert feed.bozo_message and "windows-1252" in feed.bozo_message


# --- unusable documents -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \n\t ", b"\xef\xbb\xbf", b"\x00\x00"])
def test_empty_body_is_a_feed_error(body: bytes) -> None:
    with pytest.raises(FeedError, match="empty response body") as info:
        parse(body)
    assert info.value.code == "empty"
    assert info.value.stage == "feed"


@pytest.mark.parametrize("headers", [None, {"Content-Type": "text/html; charset=utf-8"}])
def test_html_page_is_a_feed_error(headers: dict[str, str] | None) -> None:
    with pytest.raises(FeedError, match="HTML page, not an RSS/Atom feed") as info:
        parse(HTML_PAGE, headers=headers)
    assert info.value.code == "not_a_feed"
    assert FEED_URL in str(info.value)


@pytest.mark.parametrize("body", [b"hello world", b'{"items": []}', b'<?xml version="1.0"?>'])
def test_non_feed_documents_are_feed_errors(body: bytes) -> None:
    with pytest.raises(FeedError, match="not an RSS/Atom feed") as info:
        parse(body)
    assert info.value.code == "not_a_feed"


def test_ill_formed_feed_without_entries_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="ill-formed feed with no recoverable entries") as info:
        parse(b'<rss version="2.0"><channel><title>x</title><item')
    assert info.value.code == "ill_formed"


def test_well_formed_feed_without_items_is_empty_not_an_error() -> None:
    feed = parse(b'<rss version="2.0"><channel><title>Quiet day</title></channel></rss>')
    assert feed.title == "Quiet day"
    assert feed.entries == ()
    assert feed.bozo is False


def test_body_spelling_a_local_path_is_not_read(tmp_path: Path) -> None:
    # feedparser.parse(bytes) tries open(bytes) first: a body that names a file would be read.
    secret = tmp_path / "secret.xml"
    secret.write_bytes(RSS_20)
    with pytest.raises(FeedError, match="not an RSS/Atom feed"):
        parse(str(secret).encode())


def test_body_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="bytes"):
        parse(RSS_20.decode())  # type: ignore[arg-type]


def test_bytearray_and_memoryview_bodies() -> None:
    assert len(parse(bytearray(RSS_20)).entries) == 3  # type: ignore[arg-type]
    assert len(parse(memoryview(RSS_20)).entries) == 3  # type: ignore[arg-type]


# --- dates and authors --------------------------------------------------------------------------


def _item(extra: str) -> bytes:
    return (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>'
        f"<item><title>x</title><link>https://ex.com/x</link>{extra}</item></channel></rss>"
    ).encode()


def test_impossible_dates() -> None:
    # RFC 822 "30 Feb" is rejected by feedparser; ISO "2025-02-30" rolls over into March
    # (FACTS: "Feb 30 becomes Mar 1" in a leap year) and is kept as feedparser gives it.
    rfc = parse(_item("<pubDate>Sun, 30 Feb 2025 10:00:00 GMT</pubDate>")).entries[0]
    assert rfc.published is None
    iso = parse(_item("<dc:date>2025-02-30T10:00:00Z</dc:date>")).entries[0]
    assert iso.published is None or iso.published.month == 3
    assert parse(_item("<pubDate>not a date</pubDate>")).entries[0].published is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("<author>jd@ex.com (John Doe)</author>", ("John Doe",)),
        (
            "<dc:creator>Jane Roe, Joe Bloggs &amp; Max Mustermann</dc:creator>",
            ("Jane Roe", "Joe Bloggs", "Max Mustermann"),
        ),
        (
            "<dc:creator>By Jane Roe</dc:creator><dc:creator>Joe Bloggs</dc:creator>",
            ("Jane Roe", "Joe Bloggs"),
        ),
        ("<dc:creator>Anna Andersen; anna andersen</dc:creator>", ("Anna Andersen",)),
        ("<dc:creator>Sandra Anderson</dc:creator>", ("Sandra Anderson",)),
        ("", ()),
    ],
)
def test_authors(extra: str, expected: tuple[str, ...]) -> None:
    assert parse(_item(extra)).entries[0].authors == expected


def test_entry_is_frozen() -> None:
    entry = parse(RSS_20).entries[0]
    with pytest.raises(AttributeError):
        entry.title = "changed"  # type: ignore[misc,unused-ignore]


# --- the feed list ------------------------------------------------------------------------------

GOOD_LIST = """\
# comment line
feeds:
  - name: One
    url: https://one.example.com/rss.xml
    interval: 15
  - name: Two
    url: http://two.example.com/feed
    interval: "2h"
    language: en-GB
    enabled: false
  - {name: Three, url: "https://three.example.com/atom", interval: 30 minutes}
"""


def test_feed_list_good() -> None:
    specs = parse_feed_list_text(GOOD_LIST)
    assert specs == [
        FeedSpec("One", "https://one.example.com/rss.xml", 15, None, True, line=3),
        FeedSpec("Two", "http://two.example.com/feed", 120, "en-GB", False, line=6),
        FeedSpec("Three", "https://three.example.com/atom", 30, None, True, line=11),
    ]


def test_feed_list_merge_keys_and_x_anchors() -> None:
    text = """\
x-defaults: &defaults
  language: en
  interval: 1h
feeds:
  - <<: *defaults
    name: A
    url: https://a.example.com/rss
  - <<: *defaults
    name: B
    url: https://b.example.com/rss
    interval: 5m
"""
    specs = parse_feed_list_text(text)
    assert [(s.name, s.interval_minutes, s.language, s.line) for s in specs] == [
        ("A", 60, "en", 5),
        ("B", 5, "en", 8),
    ]


def test_empty_feeds_key_gives_empty_list() -> None:
    assert parse_feed_list_text("feeds: []\n") == []
    assert parse_feed_list_text("feeds:\n") == []


ENTRY_PREFIX = "feeds:\n  - name: Good\n    url: https://good.example.com/rss\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (ENTRY_PREFIX + "  - name: NoUrl\n    language: en\n", 4, "missing 'url'"),
        (ENTRY_PREFIX + "  - url: https://x.example.com/rss\n", 4, "missing 'name'"),
        (
            ENTRY_PREFIX + "  - name: Ftp\n    url: ftp://x.example.com/rss\n",
            4,
            "is not an http(s) URL",
        ),
        (ENTRY_PREFIX + "  - name: Js\n    url: javascript:alert(1)\n", 4, "is not an http(s) URL"),
        (ENTRY_PREFIX + "  - name: Num\n    url: 42\n", 4, "'url' (line 5) must be text"),
        (
            ENTRY_PREFIX + "  - name: Typo\n    url: https://t.example.com/\n    intervall: 5m\n",
            4,
            "unknown key 'intervall' (line 6)",
        ),
        (
            ENTRY_PREFIX + "  - name: Soon\n    url: https://s.example.com/\n    interval: soon\n",
            4,
            "bad interval 'soon' (line 6)",
        ),
        (
            ENTRY_PREFIX + "  - name: Zero\n    url: https://z.example.com/\n    interval: 0\n",
            4,
            "bad interval 0",
        ),
        (
            ENTRY_PREFIX + "  - name: Sec\n    url: https://z.example.com/\n    interval: 30s\n",
            4,
            "bad interval '30s'",
        ),
        (
            ENTRY_PREFIX + "  - name: Flt\n    url: https://z.example.com/\n    interval: 1.5\n",
            4,
            "bad interval 1.5",
        ),
        (
            ENTRY_PREFIX + "  - name: Dup\n    url: HTTPS://GOOD.example.com/rss#x\n",
            4,
            "duplicate url 'HTTPS://GOOD.example.com/rss#x' (already listed at line 2)",
        ),
        (
            ENTRY_PREFIX + "  - name: good\n    url: https://other.example.com/\n",
            4,
            "duplicate name 'good' (already used at line 2)",
        ),
        (ENTRY_PREFIX + "  - just a string\n", 4, "must be a mapping"),
        (ENTRY_PREFIX + "  - [1, 2]\n", 4, "must be a mapping"),
        (
            ENTRY_PREFIX + "  - name: Nor\n    url: https://n.example.com/\n    language: no\n",
            4,
            "quote it",
        ),
        (
            ENTRY_PREFIX + "  - name: Lang\n    url: https://n.example.com/\n    language: e\n",
            4,
            "must be a language tag",
        ),
        (
            ENTRY_PREFIX + "  - name: En\n    url: https://n.example.com/\n    enabled: 'no'\n",
            4,
            "'enabled' (line 6) must be true or false",
        ),
        (
            ENTRY_PREFIX + "  - name: Twice\n    url: https://a.example.com/\n"
            "    url: https://b.example.com/\n",
            6,
            "key 'url' is given twice (first at line 5)",
        ),
        (
            ENTRY_PREFIX + "  - name: ''\n    url: https://e.example.com/\n",
            4,
            "'name' must be non-empty text",
        ),
        ("\n\nitems:\n  - name: x\n", 3, "unknown top-level key 'items'"),
        ("# only a comment\n", 1, "expected a top-level 'feeds:' list"),
        ("- name: a\n  url: https://a.example.com/\n", 1, "found a list"),
        ("x-note: hi\n", 1, "no top-level 'feeds:' list"),
        ("feeds: https://a.example.com/\n", 1, "'feeds' must be a list of mappings"),
        (
            "feeds:\n  name: a\n  url: https://a.example.com/\n",
            2,
            "'feeds' must be a list of mappings, found a mapping",
        ),
        (ENTRY_PREFIX + "  - name: [unclosed\n    url: x\n", 5, "YAML syntax error"),
        (ENTRY_PREFIX + "  - name: Tab\n\turl: https://t.example.com/\n", 5, "YAML syntax error"),
        ("feeds: []\n---\nfeeds: []\n", 2, "YAML syntax error"),
    ],
)
def test_feed_list_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(FeedListError) as info:
        parse_feed_list_text(text, source="feeds.yaml")
    message = str(info.value)
    assert message.startswith(f"feeds.yaml:{line}:"), message
    assert fragment in message, message
    # an entry whose url is not http(s) is rejected on its own when polling (its own code)
    expected = "feed_rejected" if "not an http(s) URL" in fragment else "feed_list"
    assert info.value.code == expected
    assert isinstance(info.value, FeedListError) and isinstance(info.value, FeedError)


def test_read_feed_list_rejects_only_entries_with_a_non_http_url(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - name: A\n    url: https://a.example.com/rss\n"
        "  - name: Ftp\n    url: ftp://x.example.com/rss\n"
        "  - name: B\n    url: https://b.example.com/rss\n"
    )
    parsed = read_feed_list(path)
    assert [spec.name for spec in parsed.specs] == ["A", "B"]
    (rejected,) = parsed.rejected
    assert (rejected.url, rejected.line, rejected.code) == (
        "ftp://x.example.com/rss",
        5,
        "feed_rejected",
    )
    assert str(rejected).startswith(f"{path}:4: feed #2 ('Ftp'): url ")
    # the strict reader still refuses the list at that entry; other problems stay fatal
    with pytest.raises(FeedListError, match=r":4: feed #2 \('Ftp'\)"):
        load_feed_list(path)
    path.write_text("feeds:\n  - name: A\n    link: https://a.example.com/rss\n")
    with pytest.raises(FeedListError, match="unknown key 'link'"):
        read_feed_list(path)


def test_load_feed_list_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - name: A\n    url: https://a.example.com/\n    colour: red\n")
    with pytest.raises(FeedListError, match=rf"^{path}:2: feed #1 \('A'\): unknown key 'colour'"):
        load_feed_list(path)


def test_load_feed_list_missing_and_undecodable(tmp_path: Path) -> None:
    with pytest.raises(FeedListError, match="feed list not found"):
        load_feed_list(tmp_path / "absent.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("feeds:\n  - name: Caf\u00e9\n".encode("latin-1"))
    with pytest.raises(FeedListError, match="not UTF-8"):
        load_feed_list(bad)


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        (15, 15),
        ("15", 15),
        ("15m", 15),
        ("15 min", 15),
        ("30 minutes", 30),
        ("1 minute", 1),
        ("2h", 120),
        ("2 hours", 120),
        ("1d", 1440),
        ("1 day", 1440),
        ("1h30m", 90),
        ("1h 30m", 90),
        ("1 hour and 30 minutes", 90),
        (" 2H ", 120),
    ],
)
def test_parse_interval(value: object, minutes: int) -> None:
    assert parse_interval(value) == minutes


@pytest.mark.parametrize(
    "value", [0, -5, True, 1.5, "", "soon", "15s", "1h 30", "m", "5 fortnights", None, [5]]
)
def test_parse_interval_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_interval(value)


def test_project_seed_feed_list_loads() -> None:
    specs = load_feed_list(REPO_ROOT / "seeds" / "feeds.yaml")
    assert len(specs) >= 8
    names = [s.name for s in specs]
    assert any("CNN" in name for name in names)
    cnn = next(s for s in specs if s.url == "http://rss.cnn.com/rss/edition.rss")
    assert cnn.enabled and cnn.language == "en" and cnn.interval_minutes == 15
    assert sum(s.enabled for s in specs) >= 8
    assert any(not s.enabled for s in specs)
    assert any(s.interval_minutes is not None for s in specs)
    assert all(s.language == "en" for s in specs)
    assert all(s.url.startswith(("http://", "https://")) for s in specs)
    assert len({s.url for s in specs}) == len(specs)
