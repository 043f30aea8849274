"""Composes the fetch middlewares from settings, outermost first, and owns the transports.

The default list is `Fetcher.middlewares`, built here and nowhere else:

    robots -> revalidate -> redirect -> retry -> [project's, spider's] -> throttle -> auth -> cookies
      -> deadline -> transport

Everything from retry inward runs once per attempt: each redirect hop, each
retry, each answer to a login challenge. Auth and cookies come last, so the
`Cookie` header is built as the request leaves (after the host's wait), every
response's `Set-Cookie` (3xx and 401 too) is stored before the next hop, and
no project or spider middleware ever handles a password. Robots, retry and
throttle share the run's per-host records (`hosts`), given to each; robots.txt
itself is fetched through the attempt steps with its own redirect limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harvester.config import Settings
from harvester.credentials import Credentials
from harvester.fetching.auth import Auth
from harvester.fetching.cookies import Cookies
from harvester.fetching.deadline import Dispatch
from harvester.fetching.hosts import Hosts
from harvester.fetching.redirect import Redirect
from harvester.fetching.retry import Retry
from harvester.fetching.revalidate import Revalidate
from harvester.fetching.robots import Robots
from harvester.fetching.throttle import Throttle
from harvester.middleware import Middleware, compose, load
from harvester.request import Request
from harvester.response import Response
from harvester.storage.http_cache import HttpCache
from harvester.transports.base import Transport
from harvester.transports.file import FileRoots, FileTransport
from harvester.transports.ftp import FtpTransport
from harvester.transports.http import HttpTransport

ROBOTS_REDIRECTS = 5


def load_middlewares(settings: Settings, spider_cls: type | None = None) -> list[Middleware]:
    """The project's middlewares (`[project] middlewares`), then the spider's (`middlewares = [...]`).

    Raises `ConfigError` (one line) for a path that does not import or a class that fails to start.
    """
    found = load(settings.project.middlewares, settings, "[project] middlewares")
    own: Iterable[Any] = getattr(spider_cls, "middlewares", ()) or ()
    return found + load(own, settings, f"{getattr(spider_cls, '__name__', 'spider')}.middlewares")


class Fetcher:
    """The whole fetch chain: `await fetcher(request)` gives the final response (after redirects).

    `middlewares` are the project's and spider's own (`load_middlewares`); when None, the
    project's are loaded from the settings. `credentials` are the run's logins (the settings'
    `[auth]` when None); the ftp transport, which logs in by itself, is given the same ones.
    """

    def __init__(
        self,
        config: Settings,
        transports: dict[str, Transport] | None = None,
        cache: HttpCache | None = None,
        credentials: Credentials | None = None,
        file_roots: FileRoots | None = None,
        middlewares: Sequence[Middleware] | None = None,
    ) -> None:
        credentials = credentials or Credentials(config)
        if transports is None:
            http = HttpTransport(config)
            transports = {
                "http": http,
                "https": http,
                "ftp": FtpTransport(config, credentials),
                "file": FileTransport(config, file_roots),
            }
        if middlewares is None:
            middlewares = load_middlewares(config)
        self.transports = transports
        self.cache = cache
        settings = config.fetch
        self.hosts = Hosts(settings.per_host, settings.delay, settings.max_crawl_delay)  # shared by the steps
        self.throttle = Throttle(self.hosts, settings.adaptive_delay)
        self.cookies = Cookies()  # the run's jar
        endpoint = Dispatch(transports, settings.timeout)
        attempt: list[Middleware] = [  # each attempt: every redirect hop, every retry
            Retry(settings.retries, settings.backoff, settings.retry_after_cap, self.hosts),
            *middlewares,
            self.throttle,
            Auth(credentials),
            self.cookies,
        ]
        outer: list[Middleware] = []
        if settings.obey_robots:
            robots_chain = compose([Redirect(ROBOTS_REDIRECTS), *attempt], endpoint)
            outer.append(Robots(settings.user_agent, self.hosts, robots_chain, settings.max_crawl_delay))
        if cache is not None:
            outer.append(Revalidate(cache))
        outer.append(Redirect())
        self.middlewares: list[Middleware] = [*outer, *attempt]
        self._fetch = compose(self.middlewares, endpoint)

    async def __call__(self, request: Request) -> Response:
        return await self._fetch(request)

    async def aclose(self) -> None:
        """Flush the HTTP cache and close the transports (and any middleware with an `aclose`)."""
        if self.cache is not None:
            await self.cache.flush()
        for step in self.middlewares:
            if (close := getattr(step, "aclose", None)) is not None:
                await close()
        for transport in {id(t): t for t in self.transports.values()}.values():
            await transport.aclose()
