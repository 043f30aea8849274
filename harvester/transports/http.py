"""The http/https transport: httpx, several small connection pools, capped bodies.

One `httpx.AsyncClient` pool gets slower as requests in flight grow, so the
transport spreads requests over several small clients. Bodies are read raw and
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager

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
from harvester.urls import host_of


class HttpTransport:
    """http:// and https:// URLs through httpx; each response's body read and decoded here, capped."""

    def __init__(self, settings: Settings) -> None:
        fetch = settings.fetch
        self.max_size = int(fetch.max_size)
        self.feed_max_size = int(fetch.feed_max_size)
        self.budget = MemoryBudget(int(fetch.memory_budget), fetch.concurrency)
        self.user_agent = fetch.user_agent
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
        self._proxied = frozenset(scheme.lower() for scheme in fetch.proxies)
        self._clients = [_client(settings, limits, self._verified) for _ in range(pools)]
        if any(proxy.lower().startswith("https:") for proxy in fetch.proxies.values()):
            self._trust()  # the proxy itself is reached over TLS
        self._next: Iterator[pool.Client] = itertools.cycle(self._clients)
        self._insecure = _client(settings, limits, False) if self._insecure_hosts else None

    def _client_for(self, url: str) -> pool.Client:
        if self._insecure is not None and (host_of(url) in self._insecure_hosts or
                                           httpx.URL(url).host in self._insecure_hosts):
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
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": ACCEPT_ENCODING, **(request.headers or {})}
        outgoing = httpx.Request(
            request.method, request.url, headers=httpx.Headers(headers, "latin-1"),
            content=request.body,  # type: ignore[arg-type]
            extensions={"timeout": self.timeouts[request.stream]},
        )
        client = self._client_for(request.url) if request.proxy is None else self._through(request.proxy, request)
        with _translated(request):
            if request.proxy is not None or request.url.partition(":")[0].lower() not in self._proxied:
                # Nothing for the client to add (no proxy of [fetch] proxies, no jar of its own, no
                # redirects): its transport directly, through httpx's public transport API.
                raw = await client.direct.handle_async_request(outgoing)
                raw.request = outgoing
            else:
                raw = await client.send(outgoing, stream=True, follow_redirects=False)
            response = Response(url=str(raw.url), status=raw.status_code, headers=raw.headers, request=request)
            if request.stream and 200 <= raw.status_code < 300:
                response.stream, response.streamed = self._stream(raw, request), True
                response._close = raw.aclose
                return response
            try:
                await self._read(raw, request, response)
            finally:
                await raw.aclose()
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
            client = self._via[proxy] = pool.Client(via, trust_env=False)
        return client

    async def _stream(self, raw: httpx.Response, request: Request) -> AsyncIterator[bytes]:
        """A streamed body, decoded as it arrives, capped by `feed_max_size` when set."""
        decoder = Decoder(raw.headers.get("content-encoding"), self.feed_max_size or sys.maxsize)
        with _translated(request):
            try:
                async for chunk in raw.aiter_raw():
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

    async def _read(self, raw: httpx.Response, request: Request, response: Response) -> None:
        """Read the body into `response`, its bytes taken from the memory budget as they come."""
        length = raw.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_size:
            raise TooLarge(f"Content-Length {length} is over max_size {self.max_size}", request)
        if request.method == "HEAD":
            return
        lease = self.budget.lease()
        body = io.BytesIO()  # grows in place; getvalue() hands its buffer over without a copy
        try:
            decoder = Decoder(raw.headers.get("content-encoding"), self.max_size)
            async for chunk in raw.aiter_raw():
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
                raise TooLarge(f"body is over {exc.limit} bytes, the most memory_budget allows one body",
                               request) from None
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
    mounts = {
        f"{scheme}://": httpx.AsyncHTTPTransport(proxy=_proxy(settings, url), verify=verify, limits=limits)
        for scheme, url in settings.fetch.proxies.items()
    }
    direct = pool.transport(verify=verify, limits=limits, resolve=settings.fetch.resolve)
    return pool.Client(direct, mounts=mounts, trust_env=False)


def _proxy(settings: Settings, url: str) -> httpx.Proxy:
    fetch = settings.fetch
    password = settings.secret(fetch.proxy_password_env)
    if fetch.proxy_username:
        return httpx.Proxy(url, auth=(fetch.proxy_username, password or ""))
    return httpx.Proxy(url)


@contextmanager
def _translated(request: Request) -> Iterator[None]:
    """httpx's exceptions as Harvester's, at this boundary."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise FetchTimeout(f"timed out ({type(exc).__name__})", request) from exc
    except httpx.HTTPError as exc:
        raise NetworkError(_describe(exc), request) from exc


def _describe(exc: httpx.HTTPError) -> str:
    reason = exc.__context__ or exc.__cause__
    text = str(exc) or str(reason or "") or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {text}"
    return f"{type(exc).__name__}: {text}"
