"""Fetch step: cookies (RFC 6265), from one jar per run, on every request a transport sends.

It is the innermost step but the deadline, so every request sent passes it:
each hop of a redirect chain, each retry, each answer to a login challenge,
robots.txt. The `Cookie` header is built from the jar as the request leaves
(after the host's wait: it carries what a response that came meanwhile set),
and the `Set-Cookie` lines of every response, a 3xx's and a 401's included,
are stored before the next hop is sent. The store (`harvester.cookies`) decides
which cookie goes where; a request that carries its own `Cookie` header is sent
with that one alone. Only the schemes fetched as HTTP take part
(`Scheme.speaks_http`). Values are kept as the bytes they came as (read and
sent as latin-1), so a UTF-8 cookie goes back exactly as it came.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from harvester import schemes
from harvester.cookies import CookieStore
from harvester.fetching.headers import has_header, sent_as, with_header
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response


class Cookies:
    """Adds the jar's `Cookie` header to each request and keeps what each response sets."""

    def __init__(self, store: CookieStore | None = None) -> None:
        self.store = store if store is not None else CookieStore()

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        if not schemes.current().speaks_http(request.url):
            return await call_next(request)
        sent = request
        if len(self.store) and not has_header(request, "Cookie"):  # an empty jar adds nothing
            parts = urlsplit(request.url)
            value = self.store.header(parts.scheme, parts.hostname or "", parts.path or "/")
            if value is not None:
                sent = with_header(request, "Cookie", value)
        response = await (call_next(request) if sent is request else sent_as(request, sent, call_next))
        found = [line for name, line in response.headers.raw if name.lower() == b"set-cookie"]
        if found:
            parts = urlsplit(request.url)
            for line in found:
                self.store.set(line.decode("latin-1"), parts.scheme, parts.hostname or "", parts.path or "/")
        return response
