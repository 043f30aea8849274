"""Connection pools for the http transport: httpx's, on plain asyncio sockets.

httpcore reaches the network through its network backend; the pools here use
`harvester.transports.sockets` instead of anyio's (about a tenth of a crawl's
CPU went to anyio's wrapping of each read and write, and to a poll() call
before each reuse of a keep-alive connection). Everything else is httpx and
httpcore as they are. The backend also applies `[fetch] resolve` (a host
name's address chosen by the operator, as curl's `--resolve`) to direct
connections; through a proxy, the proxy resolves names.

Requests reach a pool as `httpcore.Request`s cut from the parsed URL
(`harvester.transports.outgoing`), and responses are read from httpcore's
stream: httpx's request and response models, which parse each URL again and
wrap each read, are not on the way. httpx still builds the pools (TLS,
limits, proxies with their credentials), and cookies are a step of the fetch
chain (one jar per run, `harvester.fetching.cookies`), never a client's.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping

import httpcore
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


def connections(http: httpx.AsyncHTTPTransport) -> httpcore.AsyncConnectionPool:
    """The httpcore pool behind an httpx transport (what its `handle_async_request` passes requests to)."""
    return http._pool


class Client:
    """One small pool of connections, direct, with a transport per scheme of `[fetch] proxies` beside it."""

    def __init__(
        self, direct: httpx.AsyncHTTPTransport, proxied: Mapping[str, httpx.AsyncHTTPTransport] | None = None
    ) -> None:
        self.direct = direct
        self.proxied = {scheme.lower(): http for scheme, http in (proxied or {}).items()}

    def connections_for(self, url: str) -> httpcore.AsyncConnectionPool:
        """The pool a (parsed, so lower-case scheme) URL is sent through: its scheme's proxy, else direct."""
        http = self.proxied.get(url.partition(":")[0]) if self.proxied else None
        return connections(http or self.direct)

    async def aclose(self) -> None:
        """Close every connection of the direct and proxied pools."""
        for http in (self.direct, *self.proxied.values()):
            await http.aclose()
