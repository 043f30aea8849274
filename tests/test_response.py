"""Responses (encoding, links, follow, json, soup) and Requests (schemes, bodies, forms)."""

from __future__ import annotations

import codecs
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup

from harvester.request import FormRequest, Request
from harvester.response import Response


def html_response(
    body: bytes, url: str = "http://example.com/dir/page.html", content_type: str = "text/html"
) -> Response:
    headers = httpx.Headers({"Content-Type": content_type})
    return Response(url=url, status=200, headers=headers, body=body)


# --- encoding ---------------------------------------------------------------------------


def test_encoding_comes_from_the_content_type_charset() -> None:
    body = "<html><body><h1>Café crème</h1></body></html>".encode("iso-8859-1")
    response = html_response(body, content_type="text/html; charset=ISO-8859-1")
    assert codecs.lookup(response.encoding).name in ("cp1252", "iso8859-1")
    assert "Café crème" in response.text
    assert response.css("h1::text").get() == "Café crème"


def test_the_header_charset_wins_over_a_meta_charset() -> None:
    page = '<html><head><meta charset="shift_jis"></head><body><h1>Grüße</h1></body></html>'
    body = page.encode("utf-8")
    response = html_response(body, content_type="text/html; charset=utf-8")
    assert codecs.lookup(response.encoding).name == "utf-8"
    assert response.css("h1::text").get() == "Grüße"


def test_a_utf8_bom_sets_the_encoding_and_is_not_part_of_the_text() -> None:
    body = codecs.BOM_UTF8 + "<html><body><h1>Ünïcødé</h1></body></html>".encode()
    response = html_response(body)
    assert codecs.lookup(response.encoding).name == "utf-8"
    assert response.text.startswith("<html>")
    assert response.css("h1::text").get() == "Ünïcødé"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_bom_sets_the_encoding_and_byte_order(codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    body = bom + "<html><body><h1>Ünïcødé</h1></body></html>".encode(codec)
    response = html_response(body)
    assert response.text == "<html><body><h1>Ünïcødé</h1></body></html>"
    assert response.css("h1::text").get() == "Ünïcødé"


def test_a_bom_wins_over_a_wrong_header_charset() -> None:
    # As browsers and Scrapy do: the byte order mark is the strongest signal.
    body = codecs.BOM_UTF8 + "<html><body><h1>Ünïcødé</h1></body></html>".encode()
    response = html_response(body, content_type="text/html; charset=iso-8859-1")
    assert response.text == "<html><body><h1>Ünïcødé</h1></body></html>"
    assert response.css("h1::text").get() == "Ünïcødé"


def test_encoding_comes_from_a_meta_charset_shift_jis_page() -> None:
    page = (
        '<html><head><meta charset="shift_jis"><title>本の一覧</title></head>'
        "<body><h1>日本語のテキスト</h1><p>東京都</p></body></html>"
    )
    response = html_response(page.encode("shift_jis"))
    assert codecs.lookup(response.encoding).name == "cp932"  # the Encoding Standard's Shift_JIS
    assert "日本語のテキスト" in response.text
    assert response.css("h1::text").get() == "日本語のテキスト"
    assert response.xpath("//p/text()").get() == "東京都"
    assert response.soup.h1.get_text() == "日本語のテキスト"


def test_encoding_comes_from_a_meta_http_equiv_content_type() -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type"'
        ' content="text/html; charset=windows-1252"></head>'
        "<body><h1>\u201cCafé\u201d \u2013 menu</h1></body></html>"
    )
    response = html_response(page.encode("windows-1252"))
    assert codecs.lookup(response.encoding).name == "cp1252"
    assert "\u201cCafé\u201d \u2013 menu" in response.text
    assert response.css("h1::text").get() == "\u201cCafé\u201d \u2013 menu"


def test_encoding_defaults_to_utf8() -> None:
    response = html_response("<html><body><h1>Ça va</h1></body></html>".encode())
    assert codecs.lookup(response.encoding).name == "utf-8"
    assert response.css("h1::text").get() == "Ça va"


# --- links and follow -------------------------------------------------------------------

LINK_PAGE = b"""<html><body>
<a href="/books/1#reviews">one</a>
<a href="second.html">two</a>
<a href="https://other.example/x?y=1#z">other site</a>
<a href="/books/1">one again</a>
<a href="mailto:sales@example.com">mail</a>
<a href="javascript:void(0)">js</a>
<a href="JavaScript:alert(1)">js upper</a>
<a href="#top">top</a>
<a href="file:///etc/passwd">passwd</a>
<a href="">empty</a>
<a>no href</a>
<map><area href="/map/area" alt="area"></map>
<a href="  third.html  ">spaced</a>
</body></html>"""


def test_links_are_absolute_unique_in_page_order_without_fragments() -> None:
    response = html_response(LINK_PAGE)
    assert list(response.links()) == [
        "http://example.com/books/1",
        "http://example.com/dir/second.html",
        "https://other.example/x?y=1",
        "http://example.com/map/area",
        "http://example.com/dir/third.html",
    ]


def test_links_drop_mailto_javascript_fragment_only_and_file_links_on_an_http_page() -> None:
    links = list(html_response(LINK_PAGE).links())
    assert not [link for link in links if not link.startswith(("http://", "https://"))]
    assert not [link for link in links if "#" in link]
    assert "file:///etc/passwd" not in links


def test_links_honour_base_href() -> None:
    body = b"""<html><head><base href="http://cdn.example.com/base/"></head>
    <body><a href="item.html">item</a><a href="/root.html">root</a></body></html>"""
    response = html_response(body)
    assert list(response.links()) == [
        "http://cdn.example.com/base/item.html",
        "http://cdn.example.com/root.html",
    ]


@pytest.mark.parametrize("charset", ["utf-8", "utf-16"])
def test_links_honour_an_upper_case_base_tag_in_any_encoding(charset: str) -> None:
    body = '<html><head><BASE HREF="http://cdn.example.com/b/"></head><body><a href="x.html">x</a></body></html>'
    response = html_response(body.encode(charset), content_type=f"text/html; charset={charset}")
    assert list(response.links()) == ["http://cdn.example.com/b/x.html"]


def test_base_url_is_the_parsed_response_url_after_a_redirect_and_the_request_url_without() -> None:
    request = Request("http://example.com/dir/page.html")
    same = Response(url="http://example.com/dir/page.html", status=200, request=request, body=b"<a href=x>")
    moved = Response(
        url="HTTP://Example.com:80/other/../new page.html", status=200, request=request, body=b"<a href=x>"
    )
    assert same.base_url == "http://example.com/dir/page.html"
    assert moved.base_url == "http://example.com/new%20page.html"
    assert list(moved.links()) == ["http://example.com/x"]


def test_content_type_and_encoding_come_from_the_header_read_once() -> None:
    response = html_response(b"<p>caf\xe9</p>", content_type="Text/HTML; charset=ISO-8859-1")
    assert (response.content_type, response.encoding, response.is_html) == ("text/html", "cp1252", True)
    assert response.text == "<p>caf\u00e9</p>"


def test_links_of_a_non_html_response_are_empty() -> None:
    response = html_response(b'{"href": "/x"}', content_type="application/json")
    assert list(response.links()) == []


def test_follow_a_relative_url() -> None:
    response = html_response(LINK_PAGE)

    def callback(r: Response) -> None:
        pass

    request = response.follow("../other/page.html?x=1", callback=callback, priority=5)
    assert isinstance(request, Request)
    assert request.url == "http://example.com/other/page.html?x=1"
    assert request.callback is callback
    assert request.priority == 5
    assert request.method == "GET"


def test_follow_an_anchor_selector() -> None:
    response = html_response(LINK_PAGE)
    anchor = response.css("a")[1]
    assert response.follow(anchor).url == "http://example.com/dir/second.html"


# --- json and soup ----------------------------------------------------------------------


def test_json_decodes_the_body() -> None:
    body = '{"title": "Café", "tags": [1, 2]}'.encode()
    response = html_response(body, content_type="application/json")
    assert response.json() == {"title": "Café", "tags": [1, 2]}


def test_json_with_a_utf8_bom() -> None:
    response = html_response(codecs.BOM_UTF8 + b'{"ok": true}', content_type="application/json")
    assert response.json() == {"ok": True}


def test_soup_is_a_beautifulsoup_tree_built_once() -> None:
    response = html_response(b"<html><body><h1 class='t'>Title</h1><p>a</p><p>b</p></body></html>")
    soup = response.soup
    assert isinstance(soup, BeautifulSoup)
    assert soup.find("h1", class_="t").get_text() == "Title"
    assert [p.get_text() for p in soup.find_all("p")] == ["a", "b"]
    assert response.soup is soup


# --- Request ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "mailto:a@example.com", "gopher://x/", "memo://x/", "/a/b"],
)
def test_request_rejects_unsupported_schemes(url: str) -> None:
    with pytest.raises(ValueError):
        Request(url)


@pytest.mark.parametrize(
    "url", ["http://e.example/", "https://e.example/", "ftp://e.example/f", "file:///tmp/x", "data:text/plain,hi"]
)
def test_request_accepts_supported_schemes(url: str) -> None:
    assert Request(url).url == url


def test_request_encodes_a_str_body_as_utf8() -> None:
    request = Request("http://example.com/", method="post", body="naïve=1")
    assert request.body == "naïve=1".encode()
    assert request.method == "POST"


def test_form_request_posts_an_urlencoded_body() -> None:
    request = FormRequest("http://example.com/search", formdata={"q": "war & peace", "page": "2"})
    assert request.method == "POST"
    assert request.body == b"q=war+%26+peace&page=2"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.url == "http://example.com/search"


def test_form_request_get_puts_the_data_in_the_query() -> None:
    request = FormRequest("http://example.com/search?lang=en", formdata={"q": "a b"}, method="GET")
    assert request.method == "GET"
    assert request.body is None
    assert request.url == "http://example.com/search?lang=en&q=a+b"


LOGIN_PAGE = b"""<html><body>
<form id="search" action="/search"><input name="q"></form>
<form id="login" action="session/new" method="post">
  <input type="hidden" name="csrf_token" value="tok-123">
  <input type="text" name="username">
  <input type="password" name="password">
  <input type="checkbox" name="remember" value="yes">
  <input type="checkbox" name="newsletter" value="weekly" checked>
  <select name="lang">
    <option value="en">English</option>
    <option value="fr" selected>Francais</option>
  </select>
  <input type="submit" name="action" value="Log in">
</form>
</body></html>"""


def test_form_request_from_response_fills_and_submits_the_login_form() -> None:
    response = html_response(LOGIN_PAGE, url="http://example.com/account/login")
    request = FormRequest.from_response(response, formid="login", formdata={"username": "u", "password": "p"})

    assert request.method == "POST"
    assert request.url == "http://example.com/account/session/new"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    assert fields == {
        "csrf_token": "tok-123",
        "username": "u",
        "password": "p",
        "newsletter": "weekly",
        "lang": "fr",
        "action": "Log in",
    }
    assert "remember" not in fields


def test_form_request_from_response_uses_the_first_form_and_its_get_method() -> None:
    response = html_response(LOGIN_PAGE, url="http://example.com/account/login")
    request = FormRequest.from_response(response, formdata={"q": "dune"})
    assert request.method == "GET"
    assert request.body is None
    parts = urlsplit(request.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "example.com", "/search")
    assert dict(parse_qsl(parts.query)) == {"q": "dune"}


def test_form_request_from_response_resolves_the_action_against_base_href() -> None:
    body = b"""<html><head><base href="https://secure.example.com/app/"></head><body>
    <form action="login" method="post"><input name="user"></form></body></html>"""
    response = html_response(body, url="http://example.com/account/")
    request = FormRequest.from_response(response, formdata={"user": "u"})
    assert request.url == "https://secure.example.com/app/login"
