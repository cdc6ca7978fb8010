"""URL identity: variants of one address normalise to one string."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsledger.tasks.urls import is_tracking_param, normalize_url, url_host

CANONICAL = "https://www.example.com/news/2024/story?id=42&page=2"
VARIANTS = [
    CANONICAL,
    "HTTPS://WWW.EXAMPLE.COM/news/2024/story?id=42&page=2",
    "https://www.Example.com:443/news/2024/story?id=42&page=2",
    "https://www.example.com/news/2024/story?page=2&id=42",
    "https://www.example.com/news/2024/story?id=42&page=2#comments",
    "https://www.example.com/news/2024/story?utm_source=rss&id=42&utm_medium=feed&page=2",
    "https://www.example.com/news/2024/story?id=42&fbclid=IwAR0abc&page=2&gclid=xyz",
    "https://www.example.com/news/2024/story?id=42&page=2&mc_cid=1&mc_eid=2&ocid=3&cmpid=4",
    "https://www.example.com/news/2024/story?CMP=share_btn_tw&id=42&page=2&at_medium=RSS",
    "https://www.example.com/news/2024/story?UTM_Campaign=x&id=42&page=2&xtor=RSS-1",
    "https://www.example.com/news/./2024/./story?id=42&page=2",
    "https://www.example.com/news/archive/../2024/story?id=42&page=2",
    "https://www.example.com/%6Eews/2024/st%6Fry?id=42&page=2",
    "  https://www.example.com/news/2024/story?id=42&page=2\n",
    "https://www.example.com/news/2024/story?id=42&amp;page=2",
    "<![CDATA[https://www.example.com/news/2024/story?id=42&page=2]]>",
    "https://www.example.com/news/2024/story?id=42&page=2&",
    "https://user:secret@www.example.com/news/2024/story?id=42&page=2",
    "https://www.example.com./news/2024/story?id=42&page=2",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_normalise_to_one_string(variant: str) -> None:
    assert normalize_url(variant) == CANONICAL


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),  # not https' default
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("https://BÜCHER.de/a", "https://xn--bcher-kva.de/a"),
        ("https://xn--bcher-kva.de/a", "https://xn--bcher-kva.de/a"),
        ("https://x.com/%7euser/caf%c3%a9", "https://x.com/~user/caf%C3%A9"),
        ("https://x.com/café", "https://x.com/caf%C3%A9"),
        ("http://x.com/a%2fb", "http://x.com/a%2Fb"),  # an encoded "/" stays encoded
        ("https://x.com/a/", "https://x.com/a/"),  # a trailing slash is meaningful
        ("https://x.com/p?100%", "https://x.com/p?100%25"),
        ("https://x.com/s?q=a+b&r=a%2Bb", "https://x.com/s?q=a+b&r=a%2Bb"),
        ("https://x.com/s?tag=b&tag=a&id=1", "https://x.com/s?id=1&tag=b&tag=a"),
    ],
)
def test_normalisation_details(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://straße.de/a", "https://xn--strae-oqa.de/a"),  # UTS-46, not IDNA 2003 "strasse"
        ("https://STRASSE.de/a", "https://strasse.de/a"),  # another host
        ("https://Straße.DE./a", "https://xn--strae-oqa.de/a"),
        ("https://ｅｘａｍｐｌｅ.com/a", "https://example.com/a"),  # full-width letters map
        ("https://ÖBB.at:8443/a", "https://xn--bb-eka.at:8443/a"),
    ],
)
def test_international_host_names_are_uts46(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert url_host(url) == expected.split("/")[2].split(":")[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.com/a//b", "https://x.com/a//b"),
        ("https://x.com//a", "https://x.com//a"),
        ("https://x.com/a///b/./c//", "https://x.com/a///b/c//"),
        ("https://x.com/a//../b", "https://x.com/a/b"),  # ".." removes the empty segment
    ],
)
def test_repeated_slashes_in_paths_are_kept(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "javascript:void(0)",
        "JavaScript:alert(document.cookie)",
        "mailto:news@example.com",
        "data:text/html,<b>hi</b>",
        "ftp://example.com/file",
        "feed://example.com/rss",
        "file:///etc/passwd",
        "tel:+123456",
        "",
        "   ",
        "not a url",
        "/relative/path",
        "//example.com/no-scheme",
        "http://",
        "http:///path-only",
        "http://exa mple..com/",
        "https://x..com/",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://[::1/",
        "https://-bad-.com/",
    ],
)
def test_non_http_and_garbage_give_none(url: str) -> None:
    assert normalize_url(url) is None


def test_non_string_gives_none() -> None:
    assert normalize_url(None) is None  # type: ignore[arg-type,unused-ignore]
    assert normalize_url(b"http://example.com/") is None  # type: ignore[arg-type,unused-ignore]


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("story/1", "https://ex.com/feeds/main.xml", "https://ex.com/feeds/story/1"),
        ("../b?c=1", "https://ex.com/feeds/x/main.xml", "https://ex.com/feeds/b?c=1"),
        ("/abs#top", "https://ex.com/f", "https://ex.com/abs"),
        ("//cdn.ex.com/x", "https://ex.com/", "https://cdn.ex.com/x"),
        ("?id=3", "https://ex.com/list?id=1", "https://ex.com/list?id=3"),
        ("https://other.org/a", "https://ex.com/", "https://other.org/a"),
        ("javascript:void(0)", "https://ex.com/", None),
        ("mailto:a@ex.com", "https://ex.com/", None),
    ],
)
def test_relative_urls_resolve_against_base(url: str, base: str, expected: str | None) -> None:
    assert normalize_url(url, base) == expected


@pytest.mark.parametrize(
    "name",
    [
        "utm_source",
        "UTM_MEDIUM",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "ocid",
        "cmpid",
        "CMP",
        "xtor",
        "at_medium",
        "at_campaign",
        "ns_mchannel",
        "maca",
        "smid",
        "igshid",
        "_ga",
        "ref",
        "referrer",
        "utm%5Fsource",
    ],
)
def test_tracking_params(name: str) -> None:
    assert is_tracking_param(name)


@pytest.mark.parametrize(
    "name",
    ["id", "p", "page", "q", "story", "storyId", "v", "gallery", "global", "reference", "aid"],
)
def test_meaningful_params_are_kept(name: str) -> None:
    assert not is_tracking_param(name)
    assert normalize_url(f"https://ex.com/a?{name}=7") == f"https://ex.com/a?{name}=7"


def test_courlan_quirks_are_avoided() -> None:
    # courlan.normalize_url HTML-unescapes "&copy" / "&not" / "&para" without a semicolon.
    assert normalize_url("https://ex.com/a?b=1&copy=2&not=3") == "https://ex.com/a?b=1&copy=2&not=3"
    # courlan drops value-less and blank parameters, merging distinct articles.
    assert normalize_url("https://ex.com/story?12345") == "https://ex.com/story?12345"
    assert normalize_url("https://ex.com/story?12345") != normalize_url(
        "https://ex.com/story?67890"
    )
    assert normalize_url("https://ex.com/s?a=&b=2") == "https://ex.com/s?a=&b=2"
    # courlan's scrub_url replaces a URL by one embedded in its query.
    assert (
        normalize_url("https://ex.com/share?url=https://other.org/x")
        == "https://ex.com/share?url=https://other.org/x"
    )


def test_only_trackers_leaves_no_question_mark() -> None:
    assert normalize_url("https://ex.com/a?utm_source=x&fbclid=y") == "https://ex.com/a"
    assert normalize_url("https://ex.com/a?") == "https://ex.com/a"


def test_url_host() -> None:
    assert url_host("https://WWW.Example.com:8080/x?y=1") == "www.example.com"
    assert url_host("http://[::1]:8000/") == "::1"
    assert url_host("https://BÜCHER.de/") == "xn--bcher-kva.de"
    with pytest.raises(ValueError, match="not an http"):
        url_host("mailto:a@b.c")


# --- properties --------------------------------------------------------------------------------

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_hosts = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "co.uk", "de", "news"]),
)
# Characters that may appear in a path or query part (no separators "?", "#", "&", "=").
_part_alphabet = st.sampled_from(
    [*"abcXYZ019-._~!$'()*+,;:@%/ ", "é", "ü", "€", "中", "%41", "%2f", "%2F", "%zz", "..", "."]
)
_part = st.lists(_part_alphabet, max_size=8).map("".join)
_query_part = _part.map(lambda s: s.replace("/", ""))
_params = st.lists(st.tuples(_query_part, _query_part), max_size=4)
_trackers = st.tuples(
    st.sampled_from(["utm_source", "utm_medium", "UTM_Campaign", "fbclid", "gclid", "mc_cid"]),
    st.text(alphabet="abcdef0123-_.", max_size=10),
)


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_hosts)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":1"]))
    path = "/" + "/".join(draw(st.lists(_part, max_size=4)))
    params = draw(_params)
    params = [(k, v) for k, v in params if not is_tracking_param(k)]
    query = "&".join(f"{k}={v}" for k, v in params)
    return f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(http_urls())
def test_normalize_is_idempotent(url: str) -> None:
    once = normalize_url(url)
    assert once is not None
    assert normalize_url(once) == once


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_normalize_never_raises_and_is_idempotent_on_any_text(text: str) -> None:
    for candidate in (text, "http://ex.com/" + text, "https://" + text):
        once = normalize_url(candidate)
        if once is not None:
            assert normalize_url(once) == once
            assert once.startswith(("http://", "https://"))


@settings(max_examples=300)
@given(http_urls(), st.lists(_trackers, min_size=1, max_size=3), st.integers(0, 10))
def test_adding_tracking_params_never_changes_result(
    url: str, trackers: list[tuple[str, str]], position: int
) -> None:
    base, _, query = url.partition("?")
    parts = [p for p in query.split("&") if p]
    for name, value in trackers:
        parts.insert(min(position, len(parts)), f"{name}={value}")
    assert normalize_url(base + "?" + "&".join(parts)) == normalize_url(url)


@settings(max_examples=300)
@given(http_urls(), st.text(max_size=30))
def test_fragment_never_changes_result(url: str, fragment: str) -> None:
    assert normalize_url(f"{url}#{fragment}") == normalize_url(url)


@settings(max_examples=300)
@given(http_urls(), st.randoms(use_true_random=False))
def test_host_case_never_matters(url: str, rnd: object) -> None:
    scheme, _, rest = url.partition("://")
    host, slash, tail = rest.partition("/")
    flipped = "".join(c.upper() if rnd.random() < 0.5 else c for c in host)  # type: ignore[attr-defined]
    assert normalize_url(f"{scheme}://{flipped}{slash}{tail}") == normalize_url(url)
    assert normalize_url(f"{scheme}://{host.upper()}{slash}{tail}") == normalize_url(url)


@settings(max_examples=200)
@given(http_urls(), st.permutations(range(4)))
def test_parameter_order_never_matters_for_distinct_names(url: str, order: list[int]) -> None:
    base, _, _ = url.partition("?")
    params = [f"k{i}=v{i}" for i in range(4)]
    shuffled = [params[i] for i in order]
    assert normalize_url(base + "?" + "&".join(shuffled)) == normalize_url(
        base + "?" + "&".join(params)
    )
