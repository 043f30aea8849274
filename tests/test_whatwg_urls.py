"""The WHATWG URL Standard's own test cases, through `links()`, `follow()` and `Request`.

`tests/data/urltestdata.json` is web-platform-tests' `urltestdata.json`,
copied unchanged (its source in `tests/data/urltestdata.md`). Each case gives
an input, a base and the URL a browser makes of them (or `failure`). Every
case with an http(s) base is run as a link on a page at that base, through
`response.follow()`, and its expected serialization through `Request`; every
case without a base through `Request(input)`. What Harvester deliberately
does otherwise is listed in `DELIBERATE` with the reason, and checked too.
The fast paths of `harvester.urls` are held to the parser on every case.
"""

from __future__ import annotations

import html
import json
import random
from pathlib import Path

import httpx
import pytest

from harvester import Request, Response, urls
from harvester.credentials import split_userinfo
from harvester.exceptions import HarvesterError, InvalidURL

DATA = Path(__file__).parent / "data" / "urltestdata.json"
CASES = [case for case in json.loads(DATA.read_text(encoding="utf-8")) if isinstance(case, dict)]
WEB = [case for case in CASES if (case.get("base") or "").startswith(("http:", "https:"))]
ABSOLUTE = [case for case in CASES if case.get("base") is None]
FETCHED = ("http:", "https:", "ftp:", "file:", "data:")  # the schemes Harvester has transports for
C0_OR_SPACE = "".join(map(chr, range(0x21)))

# What Harvester does on purpose where a browser's URL would differ, and why.
DELIBERATE = {
    "not fetched": "Request() and follow() refuse a URL of a scheme Harvester has no transport for "
    "(javascript:, mailto:, gopher:, ...) with InvalidURL; links() leaves it out",
    "the page itself": "links() leaves out an empty or fragment-only href: it names the page being read",
    "credentials apart": "Request keeps a URL's user:password@ apart from its URL (request.userinfo, "
    "never stored or recorded): it requests the browser's URL without them",
    "links are http(s)": "links() gives http(s) links only (plus the page's own scheme on ftp:// and file:// "
    "listings): a file://, ftp:// or data: link found on a web page is never fetched",
}


def _case_id(index: int, case: dict) -> str:
    return f"{index}:{case['input']!r}"[:70]


def _expected(case: dict) -> str | None:
    return None if case.get("failure") else case["href"]


def _assert_requests(request: Request, expected: str) -> None:
    """`request` asks for `expected` as a browser would; DELIBERATE["credentials apart"]."""
    url, login = split_userinfo(expected)
    assert request.url == url
    assert request.userinfo == login


def _page(base: str, href: str) -> Response:
    """A page served at `base` holding one link: `<a href="...">`, the href written out as HTML."""
    attribute = html.escape(href, quote=True).encode("utf-8", "xmlcharrefreplace")  # lone surrogates: &#...;
    body = b'<!DOCTYPE html><html><head><title>t</title></head><body><a href="' + attribute + b'">x</a></body></html>'
    return Response(base, 200, httpx.Headers({"Content-Type": "text/html; charset=utf-8"}), body)


@pytest.mark.parametrize("case", WEB, ids=[_case_id(i, c) for i, c in enumerate(WEB)])
def test_a_link_resolves_as_a_browser_resolves_it(case: dict) -> None:
    expected, href = _expected(case), case["input"]
    found = list(_page(case["base"], href).links())
    bare = href.strip(C0_OR_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    assert "\x00" not in href  # an HTML attribute cannot carry U+0000 (it reads U+FFFD, as in browsers)
    if not bare or bare.startswith("#"):  # DELIBERATE["the page itself"]
        assert found == []
    elif expected is None:
        assert found == []  # skipped, not a crash
    elif not expected.startswith(("http:", "https:")):  # DELIBERATE["links are http(s)"], ["not fetched"]
        assert found == []
    else:
        assert found == [expected.split("#", 1)[0]]


@pytest.mark.parametrize("case", WEB, ids=[_case_id(i, c) for i, c in enumerate(WEB)])
def test_follow_requests_what_a_browser_requests(case: dict) -> None:
    expected = _expected(case)
    page = _page(case["base"], "")
    if expected is None or not expected.startswith(FETCHED):  # DELIBERATE["not fetched"] for the latter
        with pytest.raises(InvalidURL):
            page.follow(case["input"])
    else:
        _assert_requests(page.follow(case["input"]), expected)


SERIALIZED = [case for case in WEB if (_expected(case) or "").startswith(FETCHED)]  # the URLs follow() gives


@pytest.mark.parametrize("case", SERIALIZED, ids=[_case_id(i, c) for i, c in enumerate(SERIALIZED)])
def test_a_request_keeps_a_browser_serialized_url_as_it_is(case: dict) -> None:
    _assert_requests(Request(case["href"]), case["href"])


@pytest.mark.parametrize("case", ABSOLUTE, ids=[_case_id(i, c) for i, c in enumerate(ABSOLUTE)])
def test_a_request_url_is_parsed_as_a_browser_parses_it(case: dict) -> None:
    expected = _expected(case)
    if expected is None or not expected.startswith(FETCHED):  # DELIBERATE["not fetched"] for the latter
        with pytest.raises(InvalidURL) as raised:
            Request(case["input"])
        assert isinstance(raised.value, ValueError) and isinstance(raised.value, HarvesterError)
    else:
        _assert_requests(Request(case["input"]), expected)


def _outcome(function, *args: str) -> str | type:
    try:
        return function(*args)
    except InvalidURL as exc:
        return type(exc)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(i, c) for i, c in enumerate(CASES)])
def test_the_fast_paths_give_the_parsers_result(case: dict) -> None:
    assert _outcome(urls.parse, case["input"]) == _outcome(urls.parse_slow, case["input"])
    base = case.get("base") or ""
    if base.startswith(("http:", "https:")):
        joined = _outcome(urls.Resolver(base), case["input"])
        assert joined == _outcome(urls.join_slow, urls.parse(base), case["input"])


def test_the_fast_paths_give_the_parsers_result_on_generated_links() -> None:
    """Links made of the characters and pieces the fast paths look at, against several bases."""
    pieces = [
        *"abXY09-._~!$&'()*+,;=:@%/?#\\ \t\n|^`{}[]<>\"\u00a0é",
        "..",
        ".",
        "%2e",
        "%2E",
        "%41",
        "//",
        "xn--",
        "/../",
        "/./",
        "../",
        "./",
    ]
    bases = [
        "http://h/",
        "http://h/a/b/c",
        "https://example.com:8080/p/1/i.html?x=1#f",
        "http://h/a//b/",
        "http://127.0.0.1:8088/p/1/",
    ]
    hosts = [
        "h",
        "a.b",
        "127.0.0.1",
        "1.2.3",
        "a.1",
        "ab--c",
        "0x1.a",
        "-a-.b",
        "a..b",
        "xn--a",
        "A.com",
        "a.b.",
        "999.1.1.1",
        "h:80",
        "h:0080",
        "h:65536",
        "h:8080",
        "h:",
        "h:443",
    ]
    generator = random.Random(20261201)
    resolvers = {base: urls.Resolver(base) for base in bases}
    for _ in range(20_000):
        link = "".join(generator.choice(pieces) for _ in range(generator.randint(0, 12)))
        base = generator.choice(bases)
        assert _outcome(resolvers[base], link) == _outcome(urls.join_slow, urls.parse(base), link), (base, link)
        other_host = f"//{generator.choice(hosts)}/{link}"  # a scheme-relative link
        assert _outcome(resolvers[base], other_host) == _outcome(urls.join_slow, urls.parse(base), other_host), (
            base,
            other_host,
        )
        url = f"{generator.choice(['http', 'https'])}://{generator.choice(hosts)}/{link}"
        assert _outcome(urls.parse, url) == _outcome(urls.parse_slow, url), url


def test_the_data_is_the_whole_suite() -> None:
    assert len(CASES) == 869
    assert len(WEB) == 199


def test_a_serialized_url_parses_to_itself() -> None:
    """What lets `parse()` pass its own output through untouched (a link, its request, its fingerprint)."""
    hrefs = [case["href"] for case in CASES if not case.get("failure")]
    assert [href for href in hrefs if urls.parse_slow(href) != href] == []


@pytest.mark.parametrize(
    ("charset", "links"),
    [
        ("windows-1252", ["http://h/p/?q=caf%E9", "http://h/caf%C3%A9?q=caf%E9", "http://h/s?q=%26%2326085%3B"]),
        ("shift_jis", ["http://h/p/?q=caf%26%23233%3B", "http://h/caf%C3%A9?q=caf%26%23233%3B", "http://h/s?q=%93%FA"]),
        ("utf-8", ["http://h/p/?q=caf%C3%A9", "http://h/caf%C3%A9?q=caf%C3%A9", "http://h/s?q=%E6%97%A5"]),
    ],
)
def test_a_links_query_is_sent_in_the_pages_charset_as_browsers_do(charset: str, links: list[str]) -> None:
    """The URL Standard's encoding override: the query takes the page's charset, the path is always UTF-8."""
    hrefs = ["?q=café", "/café?q=café#é", "/s?q=日"]
    body = "".join(f'<a href="{href}">x</a>' for href in hrefs).encode(charset, "xmlcharrefreplace")
    page = Response("http://h/p/", 200, httpx.Headers({"Content-Type": f"text/html; charset={charset}"}), body)
    assert list(page.links()) == links
    assert [page.follow(href).url for href in hrefs] == [links[0], links[1] + "#%C3%A9", links[2]]


def test_follow_takes_a_link_from_a_link_extractor() -> None:
    from harvester import LinkExtractor

    page = _page("http://h/a/", "b c\t#top")
    [link] = LinkExtractor().extract_links(page)
    assert (link.url, link.fragment) == ("http://h/a/b%20c", "top")
    assert page.follow(link).url == "http://h/a/b%20c"


def test_follow_of_an_absolute_url_on_a_legacy_charset_page_sends_its_query_in_that_charset() -> None:
    page = Response("http://h/", 200, httpx.Headers({"Content-Type": "text/html; charset=windows-1252"}), b"<p>")
    assert page.follow("http://h/s?q=café").url == "http://h/s?q=caf%E9"
    assert page.follow("http://h/s?q=caf%E9").url == "http://h/s?q=caf%E9"


@pytest.mark.parametrize("case", WEB, ids=[_case_id(i, c) for i, c in enumerate(WEB)])
def test_links_read_from_an_already_parsed_tree_equal_the_streamed_ones(case: dict) -> None:
    streamed = list(_page(case["base"], case["input"]).links())
    parsed = _page(case["base"], case["input"])
    parsed.css("a")  # the callback built the tree first: links() reads it instead of parsing again
    assert list(parsed.links()) == streamed


@pytest.mark.parametrize("case", WEB, ids=[_case_id(i, c) for i, c in enumerate(WEB)])
def test_a_link_extractor_without_rules_finds_the_links_links_finds(case: dict) -> None:
    from harvester import LinkExtractor

    page = _page(case["base"], case["input"])
    extracted = [link.url for link in LinkExtractor(deny_extensions=()).extract_links(page)]
    assert extracted == list(_page(case["base"], case["input"]).links())
