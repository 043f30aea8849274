"""A fetch middleware: each attempt through the next proxy of `[fetch] proxy_list`, in turn.

A proxy that fails (connection refused, reset or timed out) is rested for
`[fetch] proxy_rest` seconds: left out of the turn while others are up. The
failure is raised on, so the retry step (outside this one) tries again, through
the next proxy. When every proxy rests, the one whose rest ends first is used.
A request that names its own proxy (`Request.proxy`) keeps it.

    [project]
    middlewares = ["harvester.middlewares.RotatingProxy"]

    [fetch]
    proxy_list = ["http://127.0.0.1:3128", "http://bot:secret@10.0.0.2:3128"]
    proxy_rest = 60
"""

from __future__ import annotations

import logging
import time

from harvester.config import Settings
from harvester.credentials import split_userinfo
from harvester.exceptions import FetchTimeout, NetworkError
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response

log = logging.getLogger("harvester.proxy")


class RotatingProxy:
    """Round robin over `[fetch] proxy_list`; a proxy that fails rests for `[fetch] proxy_rest` seconds."""

    def __init__(self, settings: Settings) -> None:
        self.proxies = list(settings.fetch.proxy_list)
        if not self.proxies:
            raise ValueError("[fetch] proxy_list is empty")
        self.rest = settings.fetch.proxy_rest
        self._turn = 0
        self._resting: dict[str, float] = {}  # proxy -> monotonic time its rest ends

    def choose(self) -> str:
        """The next proxy in turn that is not resting (or, if all are, the first to wake)."""
        now = time.monotonic()
        count = len(self.proxies)
        for step in range(count):
            proxy = self.proxies[(self._turn + step) % count]
            if self._resting.get(proxy, 0.0) <= now:
                self._turn = (self._turn + step + 1) % count
                return proxy
        return min(self.proxies, key=lambda proxy: self._resting[proxy])

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        if request.proxy is not None:
            return await call_next(request)
        proxy = self.choose()
        try:
            return await call_next(request.replace(proxy=proxy))
        except (NetworkError, FetchTimeout) as exc:
            now = time.monotonic()
            if self._resting.get(proxy, 0.0) <= now:
                log.warning("proxy %s failed (%s): rested for %g s", split_userinfo(proxy)[0], exc, self.rest)
            self._resting[proxy] = now + self.rest
            raise
