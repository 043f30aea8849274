"""The http transport's wire request is exactly the one httpx would build and pass on.

`harvester.transports.outgoing` cuts the parsed URL instead of parsing it
again with `httpx.URL`; these tests hold the fast cut equal to httpx's own
request (URL parts, header list in order, body) on every URL of the WHATWG
suite a request can be made for, and on the headers and methods that change
what httpx adds (Host, Content-Length).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from harvester import Request
from harvester.decoding import ACCEPT_ENCODING
from harvester.exceptions import HarvesterError
from harvester.transports.outgoing import _split, _through_httpx, wire_request

DATA = Path(__file__).parent / "data" / "urltestdata.json"
DEFAULTS = {"User-Agent": "harvester-test/1.0", "Accept-Encoding": ACCEPT_ENCODING}


def _urls() -> list[str]:
    """Every URL of the WHATWG suite (absolute or resolved on its base) that makes an http(s) Request."""
    found = []
    for case in json.loads(DATA.read_text(encoding="utf-8")):
        if not isinstance(case, dict) or case.get("failure") or not case.get("href", "").startswith("http"):
            continue
        try:
            found.append(Request(case["href"]).url)
        except HarvesterError:
            continue
    return sorted(set(found))


URLS = _urls()
# Sent as browsers send them; httpx.Request raised on them (idna.decode of the host for the Host header).
REFUSED_BY_HTTPX = {"https://xn--n3h/"}


def _wire(request: httpx.Request | object) -> tuple:
    return (
        request.method,
        request.url.scheme,
        request.url.host,
        request.url.port,
        request.url.target,
        list(request.headers),
    )


def _same_as_httpx(request: Request) -> None:
    headers = {**DEFAULTS, **(request.headers or {})}
    fast = wire_request(request, DEFAULTS, {})
    slow = _through_httpx(request, headers, {})
    assert _wire(fast) == _wire(slow)


def test_the_suite_gives_enough_urls():
    assert len(URLS) > 150


@pytest.mark.parametrize("url", URLS)
def test_every_whatwg_url_is_sent_as_httpx_sends_it(url):
    request = Request(url)
    try:
        _through_httpx(request, DEFAULTS, {})
    except UnicodeError:  # httpx.Request decodes an IDNA host it cannot map back (xn--n3h, a snowman)
        assert url in REFUSED_BY_HTTPX
        wire = wire_request(request, DEFAULTS, {})
        assert wire.url.host.decode() in url and wire.headers[0] == (b"Host", wire.url.host)
    else:
        _same_as_httpx(request)
    # the response's URL is the request's: httpx serializes a parsed URL back unchanged
    assert str(httpx.URL(url)) == url


def test_the_fast_cut_takes_the_common_urls():
    for url in (
        "http://127.0.0.1:8088/p/1/2.html",
        "https://example.org/a?b=c#d",
        "http://[::1]:8080/x",
        "http://xn--caf-dma.example/%C3%A9?q=%E9",
    ):
        assert _split(Request(url).url) is not None


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize(
    "headers",
    [
        None,
        {"Cookie": "a=b; c=\u00e9"},  # latin-1, one byte a character
        {"user-agent": "mine", "Authorization": "Basic eA=="},
        {"Host": "other.example"},
        {"content-length": "0"},
        {"Transfer-Encoding": "chunked"},
        {"X-Bytes": b"raw"},
    ],
)
@pytest.mark.parametrize("body", [None, b"", b"a=1", "\u00e9t\u00e9"])
def test_headers_methods_and_bodies_are_sent_as_httpx_sends_them(method, headers, body):
    _same_as_httpx(Request("http://127.0.0.1:8080/form?x=1", method=method, headers=headers, body=body))


def test_a_header_value_outside_latin1_fails_as_httpx_fails():
    request = Request("http://127.0.0.1/", headers={"Cookie": "\u20ac"})
    with pytest.raises(UnicodeEncodeError):
        _through_httpx(request, {**DEFAULTS, **request.headers}, {})
    with pytest.raises(UnicodeEncodeError):
        wire_request(request, DEFAULTS, {})
