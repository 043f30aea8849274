"""The http/https transport: httpcore pools built by httpx, several small ones, capped bodies.

One connection pool gets slower as requests in flight grow, so the transport
spreads requests over several small ones (`harvester.transports.pool`). Each
request goes to its pool as the `httpcore.Request` httpx would have passed on
(`harvester.transports.outgoing`), without httpx parsing its URL again, and
its body is read from httpcore's stream; httpcore's exceptions are translated
here, as httpx would translate them (the same names and messages). Bodies are read raw and
decoded here one bounded piece at a time (`harvester.decoding`), so neither a
large body nor a compression bomb is ever held past `max_size`, and a streamed
body never holds more than one piece. Buffered bodies take their bytes from
one budget shared by all requests in flight (`harvester.memory`). A compressed
body that ends early keeps its readable part (`Response.truncated` says why).

Cookies and logins are steps of the fetch chain before this one
(`harvester.fetching.cookies`, `harvester.fetching.auth`): a request arrives
with its `Cookie` and `Authorization` headers, and leaves with none added.
Header values are sent as latin-1, one byte per character, so a cookie goes
back as the bytes it came as.

A request that names a proxy (`Request.proxy`) goes through it, over the
per-scheme `[fetch] proxies`: one client per proxy URL, made on first use. The
proxy URL's `user:password@` becomes `Proxy-Authorization`, which httpx sends
to the proxy alone (in the CONNECT of an https:// request, never inside it).
"""

from __future__ import annotations

import io
import itertools
import ssl
import sys
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from harvester.config import Settings
from harvester.credentials import split_userinfo
from harvester.decoding import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    DecodeError,
    Decoder,
    UnsupportedEncoding,
)
from harvester.exceptions import FetchError, FetchTimeout, NetworkError, TooLarge, Truncated
from harvester.memory import Lease, MemoryBudget, OverBudget
from harvester.request import Request
from harvester.response import Response
from harvester.transports import pool
from harvester.transports.outgoing import wire_request
from harvester.urls import host_of


class HttpTransport:
    """http:// and https:// URLs through httpcore's pools; each response's body read and decoded here, capped."""

    def __init__(self, settings: Settings) -> None:
        fetch = settings.fetch
        self.max_size = int(fetch.max_size)
        self.feed_max_size = int(fetch.feed_max_size)
        self.budget = MemoryBudget(int(fetch.memory_budget), fetch.concurrency)
        self._defaults = {"User-Agent": fetch.user_agent, "Accept-Encoding": ACCEPT_ENCODING}  # under a request's own
        # A buffered body is read within the fetcher's total deadline: no clock per read or write.
        # A streamed body outlives it, so each of its reads has `timeout` seconds.
        self.timeouts = {False: httpx.Timeout(None).as_dict(), True: httpx.Timeout(fetch.timeout).as_dict()}
        self._insecure_hosts = frozenset(h.lower() for h in fetch.insecure_hosts)
        pools = fetch.pools or max(1, min(64, fetch.concurrency))  # small pools: cheap to search
        per_pool = max(1, -(-fetch.concurrency // pools))
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        # One context, shared; it verifies chains and host names. The trusted CAs (a MB or two
        # of memory) are loaded with the first https:// URL, so a plain-http crawl never holds them.
        self._ca_file = fetch.ca_file
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # kept: per-proxy clients come later
        self._verified: ssl.SSLContext | None = self._context
        self._via: dict[str, pool.Client] = {}  # a client per proxy a request named
        self._via_limits = httpx.Limits(max_connections=fetch.concurrency, max_keepalive_connections=fetch.concurrency)
        self._clients = [_client(settings, limits, self._verified) for _ in range(pools)]
        if any(proxy.lower().startswith("https:") for proxy in fetch.proxies.values()):
            self._trust()  # the proxy itself is reached over TLS
        self._next: Iterator[pool.Client] = itertools.cycle(self._clients)
        self._insecure = _client(settings, limits, False) if self._insecure_hosts else None

    def _client_for(self, url: str) -> pool.Client:
        if self._insecure is not None and (
            host_of(url) in self._insecure_hosts or httpx.URL(url).host in self._insecure_hosts
        ):
            return self._insecure
        return next(self._next)

    def _trust(self) -> None:
        """Load the trusted CAs into the shared context, before its first handshake."""
        if self._verified is not None:
            if self._ca_file:
                self._verified.load_verify_locations(cafile=self._ca_file)
            self._verified.load_default_certs()
            self._verified = None

    async def fetch(self, request: Request) -> Response:
        if self._verified is not None and request.url[:6].lower() == "https:":
            self._trust()
        outgoing = wire_request(request, self._defaults, {"timeout": self.timeouts[request.stream]})
        if request.proxy is not None:
            connections = self._through(request.proxy, request).connections_for(request.url)
        else:
            connections = self._client_for(request.url).connections_for(request.url)
        with _translated(request):
            raw = await connections.handle_async_request(outgoing)
            body: Any = raw.stream
            response = Response(url=request.url, status=raw.status, headers=httpx.Headers(raw.headers), request=request)
            if request.stream and 200 <= raw.status < 300:
                response.stream, response.streamed = self._stream(body, response, request), True
                response._close = body.aclose
                return response
            try:
                await self._read(body, request, response)
            finally:
                await body.aclose()
        return response

    def _through(self, proxy: str, request: Request) -> pool.Client:
        """The client that sends requests through `proxy` (made on first use)."""
        client = self._via.get(proxy)
        if client is None:
            if proxy[:6].lower() == "https:":
                self._trust()  # the proxy itself is reached over TLS
            try:
                via = pool.transport(proxy=httpx.Proxy(proxy), verify=self._context, limits=self._via_limits)
            except (ValueError, httpx.InvalidURL, ImportError):  # ImportError: socks5:// without socksio
                raise FetchError(f"bad proxy URL {split_userinfo(proxy)[0]!r}", request) from None
            client = self._via[proxy] = pool.Client(via)
        return client

    async def _stream(self, raw: AsyncIterable[bytes], response: Response, request: Request) -> AsyncIterator[bytes]:
        """A streamed body, decoded as it arrives, capped by `feed_max_size` when set."""
        decoder = Decoder(response.headers.get("content-encoding"), self.feed_max_size or sys.maxsize)
        with _translated(request):
            try:
                async for chunk in raw:
                    for piece in decoder.decode(chunk):  # the next piece is inflated once this one is used
                        yield piece
                for piece in decoder.finish():
                    yield piece
            except BodyTooLarge:
                raise TooLarge(f"feed is over feed_max_size {self.feed_max_size} bytes", request) from None
            except (DecodeError, UnsupportedEncoding) as exc:
                raise FetchError(f"cannot decode body: {exc}", request) from exc
            if decoder.damage:
                raise Truncated(f"{decoder.damage}; the readable part was used", request)

    async def _read(self, raw: AsyncIterable[bytes], request: Request, response: Response) -> None:
        """Read the body into `response`, its bytes taken from the memory budget as they come."""
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_size:
            raise TooLarge(f"Content-Length {length} is over max_size {self.max_size}", request)
        if request.method == "HEAD":
            return
        lease = self.budget.lease()
        body = io.BytesIO()  # grows in place; getvalue() hands its buffer over without a copy
        try:
            decoder = Decoder(response.headers.get("content-encoding"), self.max_size)
            async for chunk in raw:
                for piece in decoder.decode(chunk):
                    await lease.grow(len(piece))
                    body.write(piece)
            for piece in decoder.finish():
                await lease.grow(len(piece))
                body.write(piece)
        except BaseException as exc:
            # Freed now, not when the exception (whose traceback holds this frame) is collected:
            # the budget counts these bytes free from here on.
            body.close()
            lease.release()
            if isinstance(exc, BodyTooLarge):
                raise TooLarge(f"body is over max_size {self.max_size} bytes", request) from None
            if isinstance(exc, OverBudget):
                raise TooLarge(
                    f"body is over {exc.limit} bytes, the most memory_budget allows one body", request
                ) from None
            if isinstance(exc, DecodeError | UnsupportedEncoding):
                raise FetchError(f"cannot decode body: {exc}", request) from exc
            raise
        lease.read()
        response.body = body.getvalue()
        del body
        response.truncated = decoder.damage
        if 200 <= response.status < 300:  # held until the engine is done with the page, or it is dropped
            response._close = _releaser(lease)
            weakref.finalize(response, lease.release)
        else:  # an error or redirect body: read now, dropped by the next step
            lease.release()

    async def aclose(self) -> None:
        for client in [*self._clients, *([self._insecure] if self._insecure else []), *self._via.values()]:
            await client.aclose()


def _releaser(lease: Lease) -> Callable[[], Awaitable[None]]:
    async def release() -> None:
        lease.release()

    return release


def _client(settings: Settings, limits: httpx.Limits, verify: ssl.SSLContext | bool) -> pool.Client:
    proxied = {
        scheme: httpx.AsyncHTTPTransport(proxy=_proxy(settings, url), verify=verify, limits=limits)
        for scheme, url in settings.fetch.proxies.items()
    }
    direct = pool.transport(verify=verify, limits=limits, resolve=settings.fetch.resolve)
    return pool.Client(direct, proxied)


def _proxy(settings: Settings, url: str) -> httpx.Proxy:
    fetch = settings.fetch
    password = settings.secret(fetch.proxy_password_env)
    if fetch.proxy_username:
        return httpx.Proxy(url, auth=(fetch.proxy_username, password or ""))
    return httpx.Proxy(url)


_NETWORK = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
    httpx.HTTPError,
)


@contextmanager
def _translated(request: Request) -> Iterator[None]:
    """httpcore's (and httpx's) exceptions as Harvester's, at this boundary.

    httpx would raise its own exception of the same name for each of httpcore's; the messages are the same.
    """
    try:
        yield
    except (httpcore.TimeoutException, httpx.TimeoutException) as exc:
        raise FetchTimeout(f"timed out ({type(exc).__name__})", request) from exc
    except _NETWORK as exc:
        raise NetworkError(_describe(exc), request) from exc


def _describe(exc: Exception) -> str:
    reason = exc.__context__ or exc.__cause__
    text = str(exc) or str(reason or "") or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {text}"
    return f"{type(exc).__name__}: {text}"
