"""Connection pools for the http transport: httpx's, with a cheaper liveness check.

Before reusing an idle keep-alive connection, httpcore asks its stream
whether the socket is readable; through anyio that builds the socket's whole
attribute table (a getpeername() call and a dozen closures) every time, which
made up a tenth of a crawl's CPU. The stream here remembers its socket and
answers that one question directly; everything else is httpx and httpcore as
they are.

Cookies are the transport's own business (one jar per run, `harvester.cookies`),
so each client's private jar, which httpx fills from every response, is
switched off: that was another few percent of a crawl's CPU.
"""

from __future__ import annotations

import ssl
import typing

import anyio
import httpx
from httpcore import AsyncNetworkStream
from httpcore._backends.anyio import AnyIOBackend, AnyIOStream
from httpcore._utils import is_socket_readable


class _Stream(AnyIOStream):
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        super().__init__(stream)
        self._socket = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        return super().get_extra_info(info)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> AsyncNetworkStream:
        upgraded = await super().start_tls(ssl_context, server_hostname, timeout)
        return _Stream(upgraded._stream) if isinstance(upgraded, AnyIOStream) else upgraded


class _Backend(AnyIOBackend):
    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> AsyncNetworkStream:
        stream = await super().connect_tcp(*args, **kwargs)
        return _Stream(stream._stream) if isinstance(stream, AnyIOStream) else stream


def transport(**options: typing.Any) -> httpx.AsyncHTTPTransport:
    """`httpx.AsyncHTTPTransport(**options)`, its pool using the stream above (direct connections)."""
    http = httpx.AsyncHTTPTransport(**options)
    pool = getattr(http, "_pool", None)
    if options.get("proxy") is None and hasattr(pool, "_network_backend"):
        pool._network_backend = _Backend()  # type: ignore[union-attr]
    return http


class _NoCookies(httpx.Cookies):
    """A client jar that keeps nothing: the run's jar is applied by the transport itself."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


def client(**options: typing.Any) -> httpx.AsyncClient:
    """`httpx.AsyncClient(**options)` without a cookie jar of its own."""
    made = httpx.AsyncClient(**options)
    if hasattr(made, "_cookies"):
        made._cookies = _NoCookies()
    return made
