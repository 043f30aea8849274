"""Fetch step: redirects, followed here so each hop passes the safety rules.

At most `MAX_HOPS` hops; a loop or a target that is not http(s) ends as a
`RedirectError`. A 301/302/303 after POST becomes a GET without body. When a
hop changes origin (scheme, host or port), credentials and cookies the
request carried are dropped, so they never reach a host they were not meant for.
"""

from __future__ import annotations

import html
import re

from harvester import schemes, urls
from harvester.exceptions import InvalidURL, RedirectError
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response
from harvester.urls import canonicalize, origin

MAX_HOPS = 10
MAX_REFRESH_DELAY = 100  # seconds; a slower <meta refresh> is a page, not a redirect
_META_REFRESH = re.compile(
    rb"""<meta[^>]+http-equiv\s*=\s*["']?refresh["']?[^>]*?content\s*=\s*["']\s*(\d+(?:\.\d+)?)\s*[;,]\s*(?:url\s*=\s*)?["']?([^"'>]+)""",
    re.IGNORECASE,
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PRIVATE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class Redirect:
    """Follows each redirect through the rest of the chain, up to `max_hops` hops."""

    def __init__(self, max_hops: int = MAX_HOPS) -> None:
        self.max_hops = max_hops

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        chain: list[str] = []
        seen = {(request.method, canonicalize(request.url))}
        current = request
        while True:
            response = await call_next(current)
            location = response.headers.get("location") if response.status in REDIRECT_STATUSES else None
            if location is None and response.status == 200:
                location = meta_refresh(response)
            if not location:
                response.request = request
                response.redirects = tuple(chain)
                return response
            try:
                target = urls.join(current.url, location)  # WHATWG, as a browser follows it
            except InvalidURL:
                raise RedirectError(f"redirect to an invalid URL: {location[:200]!r}", request) from None
            if not schemes.current().may_redirect_to(target):
                raise RedirectError(f"redirect to a non-http(s) URL refused: {target}", request)
            if len(chain) >= self.max_hops:
                raise RedirectError(f"more than {self.max_hops} redirects", request)
            chain.append(current.url)
            current = next_hop(current, response.status, target)
            key = (current.method, canonicalize(target))
            if key in seen:
                raise RedirectError(f"redirect loop at {target}", request)
            seen.add(key)


def meta_refresh(response: Response) -> str | None:
    """The target of an HTML `<meta http-equiv="refresh" content="N; url=...">`, if prompt enough."""
    if "html" not in response.headers.get("content-type", "text/html"):
        return None
    match = _META_REFRESH.search(response.body[:8192])
    if not match or float(match.group(1)) > MAX_REFRESH_DELAY:
        return None
    return html.unescape(match.group(2).decode("utf-8", errors="replace")).strip() or None


def next_hop(request: Request, status: int, target: str) -> Request:
    method, body = request.method, request.body
    headers = dict(request.headers or {})
    if status in (200, 303) and method != "HEAD" or status in (301, 302) and method == "POST":
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
    credentials, userinfo = request.credentials, request.userinfo
    if origin(target) != origin(request.url):
        headers = {k: v for k, v in headers.items() if k.lower() not in _PRIVATE_HEADERS}
        credentials, userinfo = False, None  # and for the rest of the chain
    return request.replace(
        url=target, method=method, body=body, headers=headers, credentials=credentials, userinfo=userinfo
    )
