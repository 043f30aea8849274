"""Fetch step: politeness per host: at most `per_host` in flight, `delay` start to start.

A host's delay is the largest of the configured delay, its robots.txt
Crawl-delay, any `Retry-After` it sent, and, with `adaptive` on, its observed
latency spread over its slots (a slow server is given room, a fast one is
not held back); one slow host never slows the others. This holds in one
process; in a run shared by several workers, the host slots claimed with
each request (`harvester.storage.leases`) make it hold across them all.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response
from harvester.urls import host_of


@dataclass
class _Host:
    slots: asyncio.Semaphore
    delay: float
    next_start: float = 0.0
    paused_until: float = 0.0
    latency: float = 0.0  # smoothed seconds per response
    floor: float = 0.0  # the configured delay or Crawl-delay, whichever is larger
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Throttle:
    """The per-host politeness step; it also keeps the run's per-host records (`harvester.fetching.hosts`)."""

    def __init__(self, per_host: int, delay: float, adaptive: bool = False, max_delay: float = 30.0) -> None:
        self.per_host = per_host
        self.delay = delay
        self.adaptive = adaptive
        self.max_delay = max_delay
        self._hosts: dict[str, _Host] = {}

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.per_host), self.delay, floor=self.delay)
        return state

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise the start-to-start delay of one host (robots.txt Crawl-delay)."""
        state = self._host(host)
        state.floor = max(state.floor, seconds)
        state.delay = max(state.delay, seconds)

    def pause(self, host: str, seconds: float) -> None:
        """Start nothing on `host` for `seconds` (a Retry-After it sent)."""
        state = self._host(host)
        state.paused_until = max(state.paused_until, time.monotonic() + seconds)

    def waiting(self) -> dict[str, float]:
        """Seconds each host must still wait before its next start."""
        now = time.monotonic()
        return {
            host: wait
            for host, state in self._hosts.items()
            if (wait := max(state.next_start, state.paused_until) - now) > 0
        }

    def wait_of(self, host: str) -> float:
        """Seconds `host` must still wait before its next start (0 when it may start now).

        A shared run writes it to the database when a request is done, so the
        delay, Crawl-delay and Retry-After hold for every worker (`harvester.storage.leases`).
        """
        state = self._hosts.get(host)
        if state is None:
            return 0.0
        return max(0.0, max(state.next_start, state.paused_until) - time.monotonic())

    def delay_of(self, host: str) -> float:
        """The host's start-to-start delay now: configured, Crawl-delay or adaptive."""
        state = self._hosts.get(host)
        return self.delay if state is None else state.delay

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        state = self._host(host_of(request.url))
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
                self._observe(state, time.monotonic() - began)

    def _observe(self, state: _Host, seconds: float) -> None:
        """Adaptive delay: the host's smoothed latency shared among its slots, never below its floor."""
        state.latency = seconds if not state.latency else 0.8 * state.latency + 0.2 * seconds
        state.delay = max(state.floor, min(self.max_delay, state.latency / self.per_host))
