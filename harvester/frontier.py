"""The frontier: requests waiting to be fetched, highest priority first, each once.

`Frontier` is the small interface the engine uses (push, next, done, size);
`MemoryFrontier` keeps it in memory. A persistent frontier in the harvest
database backs the same interface for resume and for shared workers.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Protocol

from harvester.request import Request


class Frontier(Protocol):
    def push(self, request: Request) -> bool:
        """Queue a request; False when its fingerprint was seen before (and not `dont_filter`)."""
        ...

    def next(self) -> Request | None:
        """The highest-priority queued request (first queued among equals), or None."""
        ...

    def done(self, request: Request) -> None:
        """Mark a request returned by `next` as finished, whatever its outcome."""
        ...

    def size(self) -> int:
        """How many requests are queued."""
        ...


class MemoryFrontier:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Request]] = []
        self._order = itertools.count()
        self._seen: set[str] = set()

    def push(self, request: Request) -> bool:
        if not request.dont_filter:
            key = request.fingerprint
            if key in self._seen:
                return False
            self._seen.add(key)
        heapq.heappush(self._heap, (-request.priority, next(self._order), request))
        return True

    def next(self) -> Request | None:
        return heapq.heappop(self._heap)[2] if self._heap else None

    def done(self, request: Request) -> None:
        pass

    def size(self) -> int:
        return len(self._heap)
