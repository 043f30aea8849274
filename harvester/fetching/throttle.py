"""Fetch step: politeness per host: at most `per_host` in flight, `delay` start to start.

The records it keeps by are the run's `Hosts` (`harvester.fetching.hosts`),
shared with robots (Crawl-delay) and retry (`Retry-After`); with `adaptive`
on, each response's latency goes back to the host's record, so a slow server
is given room and a fast one is not held back. One slow host never slows the
others. This holds in one process; in a run shared by several workers, the
host slots claimed with each request (`harvester.storage.leases`) make it hold
across them all.
"""

from __future__ import annotations

import asyncio
import time

from harvester.fetching.hosts import Hosts
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response
from harvester.urls import host_of


class Throttle:
    """The per-host politeness step: a slot of the host, then its delay since the last start."""

    def __init__(self, hosts: Hosts, adaptive: bool = False) -> None:
        self.hosts = hosts
        self.adaptive = adaptive

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        state = self.hosts[host_of(request.url)]
        async with state.slots:
            if state.delay or state.paused_until:
                async with state.lock:  # one start at a time, so the spacing holds
                    wait = max(state.next_start, state.paused_until) - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    state.next_start = time.monotonic() + state.delay
            if not self.adaptive:
                return await call_next(request)
            began = time.monotonic()
            try:
                return await call_next(request)
            finally:
                self.hosts.observe(state, time.monotonic() - began)
