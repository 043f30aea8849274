"""Fetch step: retries with backoff on connection errors, timeouts, 408, 429 and 5xx.

`Retry-After` (seconds or an HTTP date) is honoured up to a cap, and pauses
only the host that sent it. After the last attempt a retryable status is
returned as it is (the engine records it); a network error is raised.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time

from harvester.exceptions import FetchTimeout, NetworkError
from harvester.fetching.hosts import Hosts
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response
from harvester.urls import host_of

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Retry:
    """Runs the rest of the chain again, up to `retries` times; a `Retry-After` pauses that host in `hosts`."""

    def __init__(self, retries: int, backoff: float, retry_after_cap: float, hosts: Hosts | None = None) -> None:
        self.retries = retries
        self.backoff = backoff
        self.cap = retry_after_cap
        self.hosts = hosts

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        attempt = 0
        while True:
            try:
                response = await call_next(request)
            except (NetworkError, FetchTimeout):
                if attempt >= self.retries:
                    raise
                wait = self._backoff(attempt)
            else:
                if response.status not in RETRY_STATUSES or attempt >= self.retries:
                    return response
                wait = self._backoff(attempt)
                after = retry_after(response.headers.get("retry-after"))
                if after is not None:
                    wait = min(after, self.cap)
                    if self.hosts is not None:
                        self.hosts.pause(host_of(request.url), wait)
            attempt += 1
            await asyncio.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        return min(self.cap, self.backoff * 2.0**attempt) * random.uniform(0.75, 1.25)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header, or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
