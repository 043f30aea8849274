"""Composes the fetch steps from settings, outermost first, and owns the transports."""

from __future__ import annotations

from harvester.config import Settings
from harvester.credentials import Credentials
from harvester.fetching.base import Fetch
from harvester.fetching.deadline import Dispatch
from harvester.fetching.redirect import Redirect
from harvester.fetching.retry import Retry
from harvester.fetching.revalidate import Revalidate
from harvester.fetching.robots import Robots
from harvester.fetching.throttle import Throttle
from harvester.request import Request
from harvester.response import Response
from harvester.storage.http_cache import HttpCache
from harvester.transports.base import Transport
from harvester.transports.file import FileRoots, FileTransport
from harvester.transports.ftp import FtpTransport
from harvester.transports.http import HttpTransport

ROBOTS_REDIRECTS = 5


class Fetcher:
    def __init__(
        self,
        config: Settings,
        transports: dict[str, Transport] | None = None,
        cache: HttpCache | None = None,
        credentials: Credentials | None = None,
        file_roots: FileRoots | None = None,
    ) -> None:
        if transports is None:
            credentials = credentials or Credentials(config)
            http = HttpTransport(config, credentials)
            transports = {"http": http, "https": http, "ftp": FtpTransport(config, credentials),
                          "file": FileTransport(config, file_roots)}
        self.transports = transports
        settings = config.fetch
        self.throttle = Throttle(Dispatch(transports, settings.timeout), settings.per_host, settings.delay,
                                 settings.adaptive_delay, settings.max_crawl_delay)
        fetch: Fetch = Retry(self.throttle, settings.retries, settings.backoff, settings.retry_after_cap, self.throttle)
        retried = fetch
        fetch = Redirect(retried)
        if cache is not None:
            fetch = Revalidate(fetch, cache)
        if settings.obey_robots:
            fetch = Robots(fetch, settings.user_agent, self.throttle, settings.max_crawl_delay,
                           fetch_robots=Redirect(retried, max_hops=ROBOTS_REDIRECTS))
        self._fetch = fetch
        self.cache = cache

    async def __call__(self, request: Request) -> Response:
        return await self._fetch(request)

    async def aclose(self) -> None:
        if self.cache is not None:
            await self.cache.flush()
        for transport in {id(t): t for t in self.transports.values()}.values():
            await transport.aclose()
