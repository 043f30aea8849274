"""The per-host state the fetch steps share: delays, `Retry-After` pauses, requests in flight.

One `Hosts` per run keeps a record per host and is given to each step that
needs it: robots raises a host's delay to its Crawl-delay, retry pauses a host
that sent `Retry-After`, the throttle counts and spaces its requests by it
(and, adaptive, records their latency), and the frontier and the progress
display read the waits. No step reaches into another; they meet here.

A host's delay is the largest of the configured delay, its robots.txt
Crawl-delay and, with the adaptive delay on, its observed latency spread over
its slots (never more than `max_delay`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Host:
    """One host's record: its slots (requests in flight), delay, next start and pause."""

    slots: asyncio.Semaphore
    delay: float
    next_start: float = 0.0  # monotonic time its next request may start (the delay since the last)
    paused_until: float = 0.0  # monotonic time a Retry-After it sent ends
    latency: float = 0.0  # smoothed seconds per response (adaptive delay)
    floor: float = 0.0  # the configured delay or Crawl-delay, whichever is larger
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one start at a time, so the spacing holds


class Hosts:
    """The run's per-host records: `per_host` requests in flight each, `delay` seconds start to start."""

    def __init__(self, per_host: int, delay: float, max_delay: float = 30.0) -> None:
        self.per_host = per_host
        self.delay = delay
        self.max_delay = max_delay
        self._hosts: dict[str, Host] = {}

    def __getitem__(self, host: str) -> Host:
        """The record of `host`, made on first use."""
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = Host(asyncio.Semaphore(self.per_host), self.delay, floor=self.delay)
        return state

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise the start-to-start delay of `host` (robots.txt Crawl-delay)."""
        state = self[host]
        state.floor = max(state.floor, seconds)
        state.delay = max(state.delay, seconds)

    def pause(self, host: str, seconds: float) -> None:
        """Start nothing on `host` for `seconds` (a `Retry-After` it sent)."""
        state = self[host]
        state.paused_until = max(state.paused_until, time.monotonic() + seconds)

    def observe(self, state: Host, seconds: float) -> None:
        """A response took `seconds`: the adaptive delay is the smoothed latency shared among the
        host's slots, never below its floor nor above `max_delay`."""
        state.latency = seconds if not state.latency else 0.8 * state.latency + 0.2 * seconds
        state.delay = max(state.floor, min(self.max_delay, state.latency / self.per_host))

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
