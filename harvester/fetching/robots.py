"""Fetch step: robots.txt (RFC 9309), fetched once per scheme, host and port.

4xx means everything is allowed; 5xx or an unreachable server means nothing
is. The file is streamed and read up to 500 KiB of its decoded bytes, then the
connection is dropped, so a compressed robots.txt never inflates past that.
Lines that are not valid UTF-8 are ignored (RFC 9309 files are UTF-8). A
`Crawl-delay` for our user-agent token spaces that host's requests, capped at
`max_crawl_delay`.
"""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import Awaitable
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from harvester import schemes
from harvester.exceptions import FetchError, RedirectError, RobotsDisallowed, Truncated
from harvester.fetching.hosts import Hosts
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response
from harvester.urls import host_of

MAX_BYTES = 500 * 1024
CACHE_SECONDS = 24 * 3600
_ALLOW_ALL = Protego.parse("")


class Robots:
    """Refuses what a host's robots.txt disallows; its Crawl-delay goes to `hosts`.

    `fetch_robots` is the chain robots.txt itself is fetched with (at most 5 redirects, RFC 9309).
    """

    def __init__(self, user_agent: str, hosts: Hosts, fetch_robots: CallNext, max_crawl_delay: float = 30.0) -> None:
        self.fetch_robots = fetch_robots
        self.token = user_agent.split("/")[0].split()[0] if user_agent.strip() else "*"
        self.hosts = hosts
        self.max_crawl_delay = max_crawl_delay
        self._rules: dict[str, tuple[float, Protego]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __call__(self, request: Request, call_next: CallNext) -> Awaitable[Response]:
        url = request.url
        scheme = url.partition(":")[0]  # a parsed URL: lower case
        if not schemes.current().has_robots(scheme):
            return call_next(request)
        end = url.find("/", len(scheme) + 3)  # a parsed URL with a host has a path
        root = url[:end].lower() if end > 0 else f"{scheme}://{urlsplit(url).netloc.lower()}"
        cached = self._rules.get(root)
        if cached and cached[0] > time.monotonic():  # known: no coroutine of this step's own
            self._check(cached[1], request)
            return call_next(request)
        return self._first(root, request, call_next)

    async def _first(self, root: str, request: Request, call_next: CallNext) -> Response:
        """Fetch the host's robots.txt (once, whoever asks first), then check and send `request`."""
        self._check(await self._rules_for(root), request)
        return await call_next(request)

    def _check(self, rules: Protego, request: Request) -> None:
        if not rules.can_fetch(request.url, self.token):
            raise RobotsDisallowed(getattr(rules, "why", "disallowed by robots.txt"), request)

    async def _rules_for(self, root: str) -> Protego:
        lock = self._locks.setdefault(root, asyncio.Lock())
        async with lock:
            cached = self._rules.get(root)
            if cached and cached[0] > time.monotonic():
                return cached[1]
            rules = await self._fetch(root)
            self._rules[root] = (time.monotonic() + CACHE_SECONDS, rules)
            delay = rules.crawl_delay(self.token)
            if delay:
                self.hosts.set_delay(host_of(root), min(float(delay), self.max_crawl_delay))
            return rules

    async def _fetch(self, root: str) -> Protego:
        url = urlunsplit((*urlsplit(root)[:2], "/robots.txt", "", ""))
        try:
            response = await self.fetch_robots(Request(url, stream=True))
            if response.status >= 500:
                return _disallow_all(f"robots.txt answered HTTP {response.status}")
            if response.status >= 400:
                return _ALLOW_ALL
            text = robots_text(await _head(response, MAX_BYTES))
        except RedirectError:
            return _ALLOW_ALL  # more than 5 redirects: unavailable, as a 4xx is (RFC 9309 2.3.1.2)
        except FetchError as exc:
            return _disallow_all(f"robots.txt unreachable ({exc})")
        try:
            return Protego.parse(text)
        except Exception:  # noqa: BLE001 - a broken robots.txt allows all, as browsers do
            return _ALLOW_ALL


def _disallow_all(why: str) -> Protego:
    """Rules that disallow every path, saying why: robots.txt could not be fetched (RFC 9309 2.3.1.4)."""
    rules = Protego.parse("User-agent: *\nDisallow: /")
    rules.why = f"{why}: host treated as disallowed (RFC 9309)"  # type: ignore[attr-defined]
    return rules


async def _head(response: Response, limit: int) -> bytes:
    """The first `limit` bytes of a (streamed) body; the rest is never read or inflated."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            parts.append(chunk[: limit - size])
            size += len(parts[-1])
            if size >= limit:
                break
    except Truncated:
        pass  # a compressed file that ends early: its readable part is the file
    finally:
        await response.aclose()
    return b"".join(parts)


def robots_text(data: bytes) -> str:
    """A robots.txt as text: its first 500 KiB, a UTF-8 BOM dropped, lines that are not UTF-8 left out."""
    data = data[:MAX_BYTES]
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    lines = []
    for line in data.splitlines(keepends=True):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return "".join(lines)
