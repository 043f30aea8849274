"""The run's journal: each request's outcome written whole, by group commit.

The engine hands the journal (its `Recorder`) one `Outcome` per finished
request: page row, errors, items, the frontier rows of the requests it found
and its done mark. An outcome enters the database in one transaction or not
at all, so a run killed at any moment loses only requests in flight, and
resuming it fetches those again without storing anything twice.

Outcomes are written by group commit: a background task writes whatever
outcomes are complete, off the event loop. At a low rate each is written
within milliseconds; at a high rate the writer waits up to 50 ms for `gather`
outcomes (a quarter of the requests in flight), so many share one transaction
while a kill loses few finished requests besides those in flight. Backpressure
keeps memory bounded: a feed producing items faster than the database takes
them waits (`pace`), and no new request is handed out while `room` finished
ones wait to be written (`steady`).

Who writes what: the frontier writes its own rows (`DbFrontier.write`, given
as `queue`), the items the store pipeline keeps (`keep`) go through
`harvester.storage.items` (`item_rows`), the heartbeat renews the run's figures
(`harvester.storage.heartbeat`); retries and the run's failure are its
`Health`'s; closing the run is `harvester.storage.closing`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Connection, Engine

from harvester.exceptions import DatabaseError
from harvester.outcome import DoneMark, Outcome
from harvester.stats import Stats
from harvester.storage.backend import backend_of
from harvester.storage.health import Health
from harvester.storage.heartbeat import Heartbeat
from harvester.storage.items import ItemRows, write_items
from harvester.storage.retry import PATIENCE
from harvester.storage.tables import errors, pages

GATHER_SECONDS = 0.05  # longest wait for a batch to gather: each commit costs a few ms of CPU
BACKLOG = 6_000  # items and found requests waiting for the writer before their producers wait
T = TypeVar("T")


class QueueWriter(Protocol):
    """The frontier's part of a write (`harvester.frontier.DbFrontier`): it owns its table."""

    def mark_done(self, connection: Connection, done: list[DoneMark]) -> set[int]:
        """Mark finished requests done (each only while it holds its claim); the ids marked."""
        ...

    def insert_found(self, connection: Connection, found: list[dict[str, Any]]) -> None:
        """Insert the rows of newly found requests, skipping fingerprints the run has."""
        ...


class Journal:
    """The run's recorder: outcomes queued, written by group commit, whole or not at all."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        stats: Stats | Callable[[], dict[str, Any]],
        gather: int = 1,
        patience: float = PATIENCE,
        item_rows: ItemRows | None = None,
        health: Health | None = None,
    ) -> None:
        """`stats`: the run's figures, or a function giving them as JSON; `item_rows`: makes items' rows (`keep`)."""
        self.engine = engine
        self.run_id = run_id
        self.backend = backend_of(engine)
        self.health = health or Health(engine, patience)
        self.heartbeat = Heartbeat(run_id, stats.as_json if isinstance(stats, Stats) else stats)
        self.item_rows = item_rows
        self.queue: QueueWriter | None = None  # the frontier's writer (DbFrontier.write)
        self.gather = gather  # finished requests worth a transaction of their own
        self.lock = asyncio.Lock()  # one writer at a time: the database has one
        self._loose = Outcome(run_id)  # writes outside any request (run-level errors)
        self._ready: list[Outcome] = []
        self._backlog = 0  # items and found requests in `_ready`
        self._caught_up = asyncio.Event()  # set while the backlog is below BACKLOG
        self._caught_up.set()
        self._wake = asyncio.Event()
        self._gathered = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.room = max(4, 4 * gather)  # finished requests waiting to be written before new ones wait
        self._unwritten = 0
        self._has_room = asyncio.Event()
        self._has_room.set()

    @property
    def failure(self) -> DatabaseError | None:
        """The failure that ended the run's database, if any (its `Health`'s)."""
        return self.health.failure

    # -- the recorder ----------------------------------------------------------------------------

    def keep(self, outcome: Outcome | None, item: Any) -> None:
        """Store an item, as it is now, with `outcome` (None: the run's own, written with the next batch).

        What the store pipeline does (`RunContext.store_item`). A `ValueError`
        when a key field of the item is empty: it is not stored.
        """
        if self.item_rows is None:
            raise RuntimeError("a journal that stores items needs their rows' maker (item_rows)")
        if outcome is None:
            outcome = self._loose
            self._wake.set()
        outcome.items.append(self.item_rows.row(outcome, item))

    def record(self, outcome: Outcome) -> None:
        """The request is finished: its outcome may now be written."""
        self._queue(outcome)
        if len(self._ready) >= self.gather:
            self._gathered.set()

    @property
    def behind(self) -> bool:
        """Whether producers should wait (`pace`): a fast feed must not outrun the database."""
        return not self._caught_up.is_set()

    async def pace(self, outcome: Outcome) -> None:
        """A request with many items or links (a feed) hands them on as they come: memory stays bounded.

        Written before the request is done, they are written again if it is
        done again after a stop; the frontier's unique fingerprints and the
        items' place in the run (`source`, `seq`) make the second write a no-op.
        """
        if outcome.full:
            early = Outcome(outcome.run_id, outcome.source, outcome.url, items=outcome.items, found=outcome.found)
            outcome.items, outcome.found = [], []
            self._queue(early)
        if self.behind:
            await self._caught_up.wait()

    def error(self, kind: str, message: str, url: str | None) -> None:
        """An `errors` row of no request (the run's own), written with the next batch."""
        self._loose.error(kind, message, url)
        self._wake.set()

    def pending(self) -> bool:
        """Whether anything waits to be written."""
        return bool(self._ready) or not self._loose.empty

    def _queue(self, outcome: Outcome) -> None:
        self._ready.append(outcome)
        self._unwritten += 1
        if self._unwritten >= self.room and self.health.failure is None:
            self._has_room.clear()
        self._backlog += len(outcome.items) + len(outcome.found)
        if self._backlog > BACKLOG:
            self._caught_up.clear()
        self._wake.set()

    def _written(self, outcomes: list[Outcome]) -> None:
        self._unwritten -= len(outcomes)
        failed = self.health.failure is not None
        if self._unwritten < self.room or failed:
            self._has_room.set()
        self._backlog -= sum(len(outcome.items) + len(outcome.found) for outcome in outcomes)
        if self._backlog <= BACKLOG // 2 or failed:
            self._caught_up.set()

    async def steady(self) -> bool:
        """Wait while the database is retried or slow to take finished requests; False once the run failed.

        A request is only fetched when few finished ones wait to be written
        (`room`): if the database gives out, only those and the ones in
        flight are lost, and a resume fetches them again.
        """
        health = self.health
        while health.failure is None and not (health.steady.is_set() and self._has_room.is_set()):
            await health.steady.wait()
            if health.failure is None:
                await self._has_room.wait()
        return health.failure is None

    async def retrying(self, operation: Callable[[], Any], doing: str) -> Any:
        """`operation()` off the event loop, retried through a bad day (`Health.retrying`)."""
        return await self.health.retrying(operation, doing)

    # -- writing --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the group-commit writer."""
        self._writer = asyncio.create_task(self._write_continuously())

    async def stop(self) -> None:
        """Stop the group-commit writer (what is left is written by `flush`)."""
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None

    async def _write_continuously(self) -> None:
        while True:
            await self._wake.wait()
            if len(self._ready) < self.gather:  # wait a little for a batch: fewer, larger transactions
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(GATHER_SECONDS):
                        await self._gathered.wait()
            self._wake.clear()
            self._gathered.clear()
            await self.flush()
            if self.health.failure is not None:
                return  # the run stops (on_failure); nothing more can be written

    async def flush(self, then: Callable[[Connection], T] | None = None) -> T | None:
        """Write every finished outcome; a failure that ends the run is `failure`, not raised.

        `then` runs in the same transaction, after the writes, and its result is
        returned (None when the write failed): a shared claim, which so sees the
        host slots the done marks give back, at the cost of one commit, not two.
        """
        async with self.lock:
            queued, self._ready = self._ready, []
            outcomes = queued if self._loose.empty else [*queued, self._loose]
            self._loose = Outcome(self.run_id)
            try:
                stats = None
                if self.heartbeat.due():  # figures and heartbeat: once a second
                    self.health.check_file()
                    stats = self.heartbeat.figures()
                if self.health.failure is None:
                    result: T | None = await self.health.retrying(
                        lambda: self._write(outcomes, stats, then), "write to"
                    )
                    return result
            except DatabaseError:
                pass  # nothing of the batch is written; a resume does those requests again
            finally:
                self._written(queued)  # written, or lost to a failing run: no producer waits for them
            return None

    def _write(
        self, outcomes: list[Outcome], stats: dict[str, Any] | None, then: Callable[[Connection], T] | None = None
    ) -> T | None:
        with self.engine.begin() as connection:
            queue = self.queue
            done = [outcome.done for outcome in outcomes if outcome.done is not None]
            if done:
                if queue is None:
                    raise RuntimeError("a journal given done marks needs the frontier's writer (queue)")
                marked = queue.mark_done(connection, done)
                if len(marked) < len(done):  # a request whose lease another worker took over writes nothing
                    outcomes = [outcome for outcome in outcomes if outcome.done is None or outcome.done[0] in marked]
            found = [row for outcome in outcomes for row in outcome.found]
            if found:
                if queue is None:
                    raise RuntimeError("a journal given found requests needs the frontier's writer (queue)")
                queue.insert_found(connection, found)
            backend = self.backend
            backend.insert(connection, pages, [row for outcome in outcomes for row in outcome.pages])
            backend.insert(connection, errors, [row for outcome in outcomes for row in outcome.errors])
            items = [row for outcome in outcomes for row in outcome.items]
            if items:
                write_items(connection, items)
            if stats is not None:
                self.heartbeat.write(connection, stats)
            return then(connection) if then is not None else None
