"""Cookies, per RFC 6265: the store the cookie step of the fetch chain keeps.

`harvester.cookies.setcookie` parses `Set-Cookie` (§5.2) and
`harvester.cookies.dates` its dates (§5.1.1); `harvester.cookies.jar` is the
store (§5.3) that builds each request's `Cookie` header (§5.4). The fetch step
that applies it to requests and responses is `harvester.fetching.cookies`: one
store per run, whichever connection sends the request. Nothing a server sends
can make cookie handling raise.
"""

from __future__ import annotations

from harvester.cookies.dates import parse_cookie_date
from harvester.cookies.jar import MAX_COOKIES, MAX_HEADER, MAX_PER_DOMAIN, Cookie, CookieStore
from harvester.cookies.setcookie import SetCookie, parse_set_cookie

__all__ = [
    "MAX_COOKIES",
    "MAX_HEADER",
    "MAX_PER_DOMAIN",
    "Cookie",
    "CookieStore",
    "SetCookie",
    "parse_cookie_date",
    "parse_set_cookie",
]
