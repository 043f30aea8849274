"""The http/https transport: httpx, several small connection pools, capped bodies.

One `httpx.AsyncClient` pool gets slower as requests in flight grow, so the
transport spreads requests over several small clients. Bodies are read raw and
decoded here with an output cap (`harvester.decoding`), so neither a large
body nor a compression bomb is ever held past `max_size`.
"""

from __future__ import annotations

import itertools

import httpx

from harvester.config import FetchSettings
from harvester.decoding import ACCEPT_ENCODING, BodyTooLarge, Decoder, DecodeError, UnsupportedEncoding
from harvester.exceptions import FetchError, FetchTimeout, NetworkError, TooLarge
from harvester.request import Request
from harvester.response import Response


class HttpTransport:
    def __init__(self, settings: FetchSettings) -> None:
        self.max_size = int(settings.max_size)
        pools = settings.pools or max(1, min(16, settings.concurrency // 4))
        per_pool = max(1, -(-settings.concurrency // pools))
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        headers = {"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        self._clients = [
            httpx.AsyncClient(
                limits=limits,
                timeout=httpx.Timeout(settings.timeout),
                headers=headers,
                follow_redirects=False,
                trust_env=False,
            )
            for _ in range(pools)
        ]
        self._next = itertools.cycle(self._clients)

    async def fetch(self, request: Request) -> Response:
        client = next(self._next)
        try:
            async with client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body,  # type: ignore[arg-type]
            ) as raw:
                body = await self._read(raw, request)
                return Response(
                    url=str(raw.url),
                    status=raw.status_code,
                    headers=raw.headers,
                    body=body,
                    request=request,
                )
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"timed out ({type(exc).__name__})", request) from exc
        except httpx.HTTPError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, request) from exc

    async def _read(self, raw: httpx.Response, request: Request) -> bytes:
        length = raw.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_size:
            raise TooLarge(f"Content-Length {length} is over max_size {self.max_size}", request)
        if request.method == "HEAD":
            return b""
        try:
            decoder = Decoder(raw.headers.get("content-encoding"), self.max_size)
            chunks = [decoder.feed(chunk) async for chunk in raw.aiter_raw()]
            chunks.append(decoder.flush())
        except BodyTooLarge:
            raise TooLarge(f"body is over max_size {self.max_size} bytes", request) from None
        except (DecodeError, UnsupportedEncoding) as exc:
            raise FetchError(f"cannot decode body: {exc}", request) from exc
        return b"".join(chunks)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
