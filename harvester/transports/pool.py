"""Connection pools for the http transport: httpx's, on plain asyncio sockets.

httpcore reaches the network through its network backend; the pools here use
`harvester.transports.sockets` instead of anyio's (about a tenth of a crawl's
CPU went to anyio's wrapping of each read and write, and to a poll() call
before each reuse of a keep-alive connection). Everything else is httpx and
httpcore as they are. The backend also applies `[fetch] resolve` (a host
name's address chosen by the operator, as curl's `--resolve`) to direct
connections; through a proxy, the proxy resolves names.

Cookies are a step of the fetch chain (one jar per run,
`harvester.fetching.cookies`), so each client's private jar, which httpx fills
from every response, is switched off: that was another few percent of a
crawl's CPU.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping

import httpx

from harvester.transports.sockets import Backend


def transport(resolve: Mapping[str, str] | None = None, **options: typing.Any) -> httpx.AsyncHTTPTransport:
    """`httpx.AsyncHTTPTransport(**options)`, its pool on asyncio sockets (direct connections).

    `resolve` maps host names to the IP addresses to connect to (`[fetch] resolve`).
    """
    http = httpx.AsyncHTTPTransport(**options)
    pool = getattr(http, "_pool", None)
    if options.get("proxy") is None and hasattr(pool, "_network_backend"):
        pool._network_backend = Backend(resolve)  # type: ignore[union-attr]
    return http


class _NoCookies(httpx.Cookies):
    """A client jar that keeps nothing: the run's jar is the cookie step's."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class Client(httpx.AsyncClient):
    """An `httpx.AsyncClient` without a cookie jar of its own, its direct transport at hand."""

    def __init__(self, direct: httpx.AsyncHTTPTransport, **options: typing.Any) -> None:
        super().__init__(transport=direct, **options)
        self.direct = direct
        if hasattr(self, "_cookies"):
            self._cookies = _NoCookies()
