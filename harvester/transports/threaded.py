"""Transport step for streamed bodies read by blocking code (ftp, file): thread -> event loop.

A worker thread runs the blocking `read()` in a loop and hands each chunk to
the event loop through a small bounded queue, so it reads ahead a few chunks
and then waits for the consumer (backpressure: memory stays bounded however
slow the spider is). Closing the stream stops the thread at its next chunk
(`interrupt` unblocks a read that waits on the network), and the thread
releases its resources itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor

_END = object()
DEPTH = 4  # chunks read ahead
_POLL = 0.5  # seconds between checks for a stop while the queue is full


class ThreadedStream:
    """Chunks from `read()` (b"" at the end) in a worker thread; `finish()` runs there last."""

    def __init__(
        self,
        executor: Executor,
        read: Callable[[], bytes],
        finish: Callable[[], None] = lambda: None,
        interrupt: Callable[[], None] = lambda: None,
    ) -> None:
        self._executor = executor
        self._read = read
        self._finish = finish
        self._interrupt = interrupt
        self._queue: asyncio.Queue[object] = asyncio.Queue(DEPTH)
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._pump: asyncio.Future[None] | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks as the thread reads them; a read error is raised here."""
        self._pump = asyncio.ensure_future(self._loop.run_in_executor(self._executor, self._run))
        while True:
            item = await self._queue.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
        await self._pump

    async def aclose(self) -> None:
        """Stop the thread and wait for it to release what it holds (safe to call twice)."""
        self._stop.set()
        if self._pump is None:  # never started: release in a thread all the same
            self._pump = asyncio.ensure_future(self._loop.run_in_executor(self._executor, self._finish))
        elif not self._pump.done():
            self._interrupt()
        while not self._pump.done():
            while not self._queue.empty():  # unblock a pending put
                self._queue.get_nowait()
            await asyncio.wait([self._pump], timeout=0.05)
        self._pump.exception()  # retrieved: an error after a stop is of no interest

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._read()
                if not self._put(chunk or _END) or not chunk:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            if not self._stop.is_set():
                self._put(exc)
        finally:
            self._finish()

    def _put(self, item: object) -> bool:
        """Queue `item` from the thread, waiting while the queue is full; False once stopped."""
        future = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        while True:
            try:
                future.result(timeout=_POLL)
                return True
            except concurrent.futures.TimeoutError:
                if self._stop.is_set() or self._loop.is_closed():
                    future.cancel()
                    return False
