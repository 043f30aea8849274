"""Fetch step: one memory budget for the bodies buffered by all requests in flight.

`fetch.memory_budget` bounds the decoded bytes of buffered bodies held at
once, so `concurrency × max_size` cannot exhaust memory. A body takes its
bytes from the budget as they are decoded (a `Lease`) and gives them back when
the engine is done with its response (or the response is dropped).

Each body being read may grow up to its `share` (half the budget split over
the requests in flight) while the budget has room. Past its share a body needs
the one large-body slot, held while it is read: one body at a time may then
grow to `largest` (half the budget), so the bodies being read always fit
together and no reader waits on another reader. Read bodies keep their bytes
until released, and new bytes wait while the budget is full. A body larger
than `largest` is refused (`too_large`). Waiting happens before more bytes are
read from the socket, so the server is held back by TCP, not buffered here;
the fetch deadline (`fetch.timeout`) bounds the wait.
"""

from __future__ import annotations

import asyncio
import threading

SMALLEST_SHARE = 256 * 1024  # a share never below one decoding step


class OverBudget(Exception):
    """One body alone would need more than the budget allows a body."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds {limit} bytes, the most the memory budget allows one body")
        self.limit = limit


class MemoryBudget:
    def __init__(self, total: int, concurrency: int) -> None:
        self.total = total
        self.largest = total // 2
        self.share = min(self.largest, max(SMALLEST_SHARE, self.largest // max(1, concurrency)))
        self.used = 0
        self.peak = 0
        self._large: Lease | None = None
        self._lock = threading.Lock()  # a lease may be released by a finalizer on any thread
        self._waiters: list[asyncio.Future[None]] = []

    def lease(self) -> Lease:
        return Lease(self)

    def _try(self, lease: Lease, size: int) -> bool:
        with self._lock:
            needs_slot = lease.held + size > self.share and self._large is not lease
            if needs_slot and self._large is not None or self.used + size > self.total:
                return False
            if needs_slot:
                self._large = lease
            lease.held += size
            self.used += size
            self.peak = max(self.peak, self.used)
            return True

    def _release(self, lease: Lease, keep: bool = False) -> None:
        with self._lock:
            if not keep:
                self.used -= lease.held
                lease.held = 0
            if self._large is lease:
                self._large = None
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            try:
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
            except RuntimeError:  # its loop is closed: nobody waits on it any more
                pass


class Lease:
    """The bytes one buffered body holds of the budget."""

    def __init__(self, budget: MemoryBudget) -> None:
        self.budget = budget
        self.held = 0

    async def grow(self, size: int) -> None:
        """Take `size` more bytes, waiting for room; OverBudget if this body could never fit."""
        budget = self.budget
        if self.held + size > budget.largest:
            raise OverBudget(budget.largest)
        while not budget._try(self, size):
            waiter = asyncio.get_running_loop().create_future()
            with budget._lock:
                budget._waiters.append(waiter)
            if budget._try(self, size):  # room made between the two looks
                break
            await waiter

    def read(self) -> None:
        """The body is read whole: it keeps its bytes but gives up the large-body slot."""
        if self.budget._large is self:
            self.budget._release(self, keep=True)

    def release(self) -> None:
        """Give every byte back (safe to call more than once)."""
        if self.held or self.budget._large is self:
            self.budget._release(self)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
