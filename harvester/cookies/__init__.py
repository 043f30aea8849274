"""Cookies, per RFC 6265: the fetch step's jar, between the http transport and the servers.

`harvester.cookies.setcookie` parses `Set-Cookie` (§5.2) and
`harvester.cookies.dates` its dates (§5.1.1); `harvester.cookies.jar` is the
store (§5.3) that builds each request's `Cookie` header (§5.4). `CookieJar`
here joins them to httpx's requests and responses: one jar per run, whichever
connection pool sends the request. Headers are handled as bytes, so a UTF-8
cookie goes back exactly as it came, and nothing a server sends can make
cookie handling raise.
"""

from __future__ import annotations

import httpx

from harvester.cookies.dates import parse_cookie_date
from harvester.cookies.jar import MAX_COOKIES, MAX_HEADER, MAX_PER_DOMAIN, Cookie, CookieStore
from harvester.cookies.setcookie import SetCookie, parse_set_cookie

__all__ = [
    "MAX_COOKIES",
    "MAX_HEADER",
    "MAX_PER_DOMAIN",
    "Cookie",
    "CookieJar",
    "CookieStore",
    "SetCookie",
    "parse_cookie_date",
    "parse_set_cookie",
]


class CookieJar:
    """The run's cookies, applied to outgoing httpx requests and taken from their responses."""

    def __init__(self, store: CookieStore | None = None) -> None:
        self.store = store if store is not None else CookieStore()

    def add_header(self, request: httpx.Request) -> None:
        """Add the `Cookie` header the jar holds for this request, unless it carries its own."""
        if not len(self.store) or "cookie" in request.headers:
            return
        scheme, host, path = _parts(request.url)
        value = self.store.header(scheme, host, path)
        if value is not None:
            request.headers = httpx.Headers(
                [*request.headers.raw, (b"Cookie", value.encode("latin-1"))]
            )

    def extract(self, response: httpx.Response) -> None:
        """Store the cookies a response sets, as RFC 6265 allows."""
        headers = [value for name, value in response.headers.raw if name.lower() == b"set-cookie"]
        if headers:
            scheme, host, path = _parts(response.request.url)
            for value in headers:
                self.store.set(value.decode("latin-1"), scheme, host, path)

    def __len__(self) -> int:
        return len(self.store)


def _parts(url: httpx.URL) -> tuple[str, str, str]:
    """Scheme, canonical host (lower case, IDNA) and path (as sent, without the query) of a URL."""
    host = url.raw_host.decode("ascii", "replace").lower()
    path = url.raw_path.decode("latin-1").partition("?")[0] or "/"
    return url.scheme, host, path
