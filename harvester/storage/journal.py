"""The run's journal: everything a run writes, committed whole request by whole request.

Each fetched request gathers its outcome in a `Unit`: the page row, errors,
items, the new requests its callback found, and its own "done" mark. A unit
enters the database in one transaction or not at all, so a run killed at any
moment loses only requests in flight, and resuming it fetches those again
without storing anything twice.

Units are written by group commit: a background task writes whatever units
are complete, off the event loop. At a low rate each unit is written within
milliseconds; at a high rate the writer waits up to 50 ms for `gather` units
(a quarter of the requests in flight), so many share one transaction while a
kill loses few finished requests besides those in flight. Each write also
renews the run's heartbeat and figures. A feed that produces items faster
than the database takes them is held back (`behind`, `caught_up`), so memory
stays bounded.

On a bad day a write is retried with backoff for `[storage] patience`
seconds (`harvester.storage.retry`); meanwhile the frontier hands out no
new requests (`steady`), so only the requests in flight are at stake. When
the database does not come back, or its SQLite file vanished or was
replaced under the run (checked with each heartbeat), the journal fails
(`failure`) and the run stops `failed`, resumable. When the run closes, its
figures are recounted from its rows, so `runs.stats` agrees with the tables
after any number of kills and resumes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from harvester.exceptions import DatabaseError
from harvester.items import safe_text
from harvester.stats import Stats
from harvester.storage.bulk import insert_rows
from harvester.storage.files import FileIdentity
from harvester.storage.items import write_items
from harvester.storage.leases import add_hosts, commit_done, forget, leave, now
from harvester.storage.retry import PATIENCE, Patience
from harvester.storage.tables import errors, frontier, items, pages, runs

log = logging.getLogger("harvester.journal")
BEAT_SECONDS = 1.0
GATHER_SECONDS = 0.05  # longest wait for a batch to gather: each commit costs a few ms of CPU
SPILL = 2000  # items (or found requests) of one request held before they are written
BACKLOG = 6_000  # items and found requests waiting for the writer before their producers wait
ItemWriter = Callable[[Connection, list[dict[str, Any]]], None]


@dataclass
class Unit:
    """The outcome of one request, written together."""

    url: str | None = None  # the response's URL: what items of this unit came from
    source: int | None = None  # its frontier row: with `seq`, each item's place in the run
    seq: int = 0
    pages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    found: list[dict[str, Any]] = field(default_factory=list)  # frontier rows
    # frontier rows finished: (id, the claim's token, the host's next start as seen by this worker)
    done: list[tuple[int, str | None, dt.datetime | None]] = field(default_factory=list)


_current: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("unit", default=None)


class Journal:
    def __init__(
        self, engine: Engine, run_id: int, stats: Stats | Callable[[], dict[str, Any]], gather: int = 1,
        patience: float = PATIENCE,
    ) -> None:
        """`stats`: the run's figures (recounted at close), or a function giving them as JSON."""
        self.engine = engine
        self.run_id = run_id
        self.figures = stats if isinstance(stats, Stats) else None
        self.stats: Callable[[], dict[str, Any]] = stats.as_json if isinstance(stats, Stats) else stats
        self.patience = Patience(patience)
        self.file = FileIdentity.of(engine)  # a SQLite file: the one this run writes to
        self.stores_items = False
        self.shared = False  # a run several workers share: hosts get their frontier_hosts rows as found
        self.gather = gather  # finished requests worth a transaction of their own
        self.item_writer: ItemWriter = write_items  # the store pipeline may set its own
        self.lock = asyncio.Lock()  # one writer at a time: the database has one
        self.on_write: Callable[[], None] = lambda: None
        self.worker: str | None = None  # set when the run is shared by several workers (`leases`)
        self.lease = 60.0
        self.on_failure: Callable[[DatabaseError], None] = lambda exc: None
        self.failure: DatabaseError | None = None
        self._loose = Unit()  # writes outside any request (start requests, run-level errors)
        self._ready: list[Unit] = []
        self._backlog = 0  # items and found requests in `_ready`
        self._caught_up = asyncio.Event()  # set while the backlog is below BACKLOG
        self._caught_up.set()
        self._wake = asyncio.Event()
        self._gathered = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._beat = 0.0
        self._steady = asyncio.Event()  # set unless an operation is being retried
        self._steady.set()
        self._troubled = 0  # operations being retried
        self.room = max(4, 4 * gather)  # finished requests waiting to be written before new ones wait
        self._unwritten = 0
        self._has_room = asyncio.Event()
        self._has_room.set()

    # -- gathering ------------------------------------------------------------------------------

    def open_unit(self, source: int | None = None) -> Unit:
        """Start the unit of the request the current task works on (its frontier row: `source`)."""
        unit = Unit(source=source)
        _current.set(unit)
        return unit

    def close_unit(self, unit: Unit) -> None:
        """The request is finished: its unit may now be written."""
        _current.set(None)
        self._queue(unit)
        if len(self._ready) >= self.gather:
            self._gathered.set()

    def abandon_unit(self) -> None:
        """The request was cancelled: nothing of it is written, so a resume does it again."""
        _current.set(None)

    def _unit(self) -> Unit:
        return _current.get() or self._loose

    @staticmethod
    def current_url() -> str | None:
        unit = _current.get()
        return unit.url if unit is not None else None

    def page(self, **row: Any) -> None:
        self._unit().pages.append({"run_id": self.run_id, "fetched_at": now(), **row})

    def error(self, url: str | None, kind: str, message: str) -> None:
        self._unit().errors.append(
            {"run_id": self.run_id, "url": url, "kind": kind, "at": now(),
             "message": safe_text(message[:2000])}  # no NUL (PostgreSQL) nor lone surrogate (UTF-8)
        )
        if _current.get() is None:
            self._wake.set()

    def item(self, row: dict[str, Any]) -> None:
        unit = self._unit()
        if unit.source is not None:
            row["source"], row["seq"] = unit.source, unit.seq
            unit.seq += 1
        unit.items.append(row)
        self.stores_items = True
        if len(unit.items) >= SPILL and unit is not self._loose:
            self._spill(unit)

    def _spill(self, unit: Unit) -> None:
        """A request with many items (a feed) writes them as they come: memory stays bounded.

        Written before the request is done, they are written again if it is
        done again after a stop; their place in the run (`source`, `seq`)
        makes the second write a no-op.
        """
        self._queue(Unit(items=unit.items, found=unit.found))
        unit.items, unit.found = [], []

    def _queue(self, unit: Unit) -> None:
        self._ready.append(unit)
        self._unwritten += 1
        if self._unwritten >= self.room and self.failure is None:
            self._has_room.clear()
        self._backlog += len(unit.items) + len(unit.found)
        if self._backlog > BACKLOG:
            self._caught_up.clear()
        self._wake.set()

    @property
    def behind(self) -> bool:
        """Whether producers should wait (`caught_up`): a fast feed must not outrun the database."""
        return not self._caught_up.is_set()

    async def caught_up(self) -> None:
        await self._caught_up.wait()

    def _written(self, units: list[Unit]) -> None:
        self._unwritten -= len(units)
        if self._unwritten < self.room or self.failure is not None:
            self._has_room.set()
        self._backlog -= sum(len(unit.items) + len(unit.found) for unit in units)
        if self._backlog <= BACKLOG // 2 or self.failure is not None:
            self._caught_up.set()

    def found(self, row: dict[str, Any]) -> None:
        unit = self._unit()
        unit.found.append(row)
        if len(unit.found) >= SPILL and unit is not self._loose:
            self._spill(unit)

    def mark_done(self, frontier_id: int, token: str | None = None, next_start: dt.datetime | None = None) -> None:
        """The request of frontier row `frontier_id` is finished; written only while `token` is its claim's."""
        self._unit().done.append((frontier_id, token, next_start))

    def pending(self) -> bool:
        loose = self._loose
        return bool(self._ready or loose.found or loose.errors or loose.items or loose.pages)

    # -- writing --------------------------------------------------------------------------------

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_continuously())

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
            if self.failure is not None:
                return  # the run stops (on_failure); nothing more can be written

    async def flush(self) -> None:
        """Write every finished unit; a failure that ends the run is `failure`, not raised."""
        async with self.lock:
            queued, self._ready = self._ready, []
            units = [*queued, self._loose] if self._loose != Unit() else queued
            self._loose = Unit()
            try:
                stats = None
                if time.monotonic() - self._beat >= BEAT_SECONDS:  # figures and heartbeat: once a second
                    self.check_file()
                    stats, self._beat = self.stats(), time.monotonic()
                if self.failure is None:
                    await self.retrying(lambda: self._write(units, stats), "write to")  # the batch is whole
            except DatabaseError:
                pass  # nothing of the batch is written; a resume does those requests again
            finally:
                self._written(queued)  # written, or lost to a failing run: no producer waits for them
        self.on_write()

    async def retrying(self, operation: Callable[[], Any], doing: str) -> Any:
        """`operation()` off the event loop, retried through a bad day; a final failure fails the run.

        While it is retried the journal is not `steady`: the frontier hands out no requests.
        """
        troubled = False

        def trouble() -> None:
            nonlocal troubled
            troubled = True
            self._troubled += 1
            self._steady.clear()

        try:
            return await self.patience.run(operation, doing, on_trouble=trouble)
        except DatabaseError as exc:
            raise self.fail(exc) from None
        finally:
            if troubled:
                self._troubled -= 1
            if not self._troubled:
                self._steady.set()

    async def steady(self) -> bool:
        """Wait while the database is retried or slow to take finished requests; False once the run failed.

        A request is only fetched when few finished ones wait to be written
        (`room`): if the database gives out, only those and the ones in
        flight are lost, and a resume fetches them again.
        """
        while self.failure is None and not (self._steady.is_set() and self._has_room.is_set()):
            await self._steady.wait()
            await self._has_room.wait()
        return self.failure is None

    def fail(self, error: DatabaseError) -> DatabaseError:
        """Remember the first failure of the run's database and tell the run, once."""
        if self.failure is None:
            self.failure = error
            self._has_room.set()  # nobody waits for a database that is gone
            self._steady.set()
            self.on_failure(error)
        return self.failure

    def check_file(self) -> None:
        """Fail the run if its SQLite file vanished or was replaced: what it writes would be lost."""
        if self.file is not None and self.failure is None:
            change = self.file.change()
            if change:
                self.fail(DatabaseError(change))

    def _write(self, units: list[Unit], stats: dict[str, Any] | None) -> None:
        with self.engine.begin() as connection:
            done = [entry for unit in units for entry in unit.done]
            if done:  # a request whose lease another worker took over writes nothing of its outcome
                marked = commit_done(connection, done)
                units = [unit for unit in units if not unit.done or any(entry[0] in marked for entry in unit.done)]
            found = [row for unit in units for row in unit.found]
            page_rows = [row for unit in units for row in unit.pages]
            error_rows = [row for unit in units for row in unit.errors]
            item_rows = [row for unit in units for row in unit.items]
            if found and self.shared:  # a host's row is its slot across workers; a joining worker adds the rest
                add_hosts(connection, self.run_id, [row["host"] for row in found])
            if connection.dialect.name == "sqlite":  # one statement per table and batch
                insert_rows(connection, frontier, found, ignore=("run_id", "fingerprint"))
                insert_rows(connection, pages, page_rows)
                insert_rows(connection, errors, error_rows)
            else:
                if found:
                    connection.execute(_insert_ignoring_duplicates(connection), found)
                if page_rows:
                    connection.execute(insert(pages), page_rows)
                if error_rows:
                    connection.execute(insert(errors), error_rows)
            if item_rows:
                self.item_writer(connection, item_rows)
            if stats is not None:
                connection.execute(
                    update(runs).where(runs.c.id == self.run_id).values(stats=stats, heartbeat_at=now())
                )

    async def finish(self, status: str) -> None:
        """Write what is left, then close the run with its status and its figures recounted from its rows.

        A run whose database file vanished or was replaced writes nothing more.
        """
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        self.check_file()
        if self.failure is None:
            await self.flush()
            self.check_file()
        if self.failure is not None:
            status = "failed"
            if self.file is not None and self.file.change():
                return
        with contextlib.suppress(DatabaseError):  # the figures counted in memory stay, then
            self._recount(await self.patience.run(lambda: recount(self.engine, self.run_id), "read"))
        stats = self.stats()

        def close() -> None:
            with self.engine.begin() as connection:
                closing: str | None = status
                if self.worker is not None:  # a shared run: the last worker out closes it
                    closing = leave(connection, self.run_id, self.worker, status, self.lease)
                values: dict[str, Any] = {"stats": stats, "heartbeat_at": now()}
                if closing is not None:
                    values.update(status=closing, finished_at=now())
                connection.execute(update(runs).where(runs.c.id == self.run_id).values(**values))
                if closing == "finished":  # nothing left to resume: the queue is history
                    forget(connection, self.run_id)

        try:
            await self.patience.run(close, "close the run in")
        except DatabaseError as exc:
            self.fail(exc)  # unless the run failed before; it stays resumable all the same

    def _recount(self, counted: dict[str, Any]) -> None:
        """Take the figures counted from the rows; items only if this run stores them."""
        if self.figures is None:
            return
        figures = self.figures
        figures.pages, figures.errors, figures.bytes = counted["pages"], counted["errors"], counted["bytes"]
        figures.statuses = collections.Counter({int(k): v for k, v in counted["statuses"].items()})
        figures.error_kinds = collections.Counter(counted["errors_by_kind"])
        if self.stores_items or counted["items"]:
            figures.items = counted["items"]


def recount(engine: Engine, run_id: int) -> dict[str, Any]:
    """A run's figures counted from its rows: pages, items, errors, bytes, statuses, errors by kind."""
    with engine.connect() as connection:
        return count_rows(connection, run_id)


def count_rows(connection: Connection, run_id: int) -> dict[str, Any]:
    """`recount` in an open connection."""
    def count(table: Any) -> int:
        query = select(func.count()).select_from(table).where(table.c.run_id == run_id)
        return int(connection.execute(query).scalar() or 0)

    statuses = connection.execute(
        select(pages.c.status, func.count()).where(pages.c.run_id == run_id).group_by(pages.c.status)).all()
    kinds = connection.execute(
        select(errors.c.kind, func.count()).where(errors.c.run_id == run_id).group_by(errors.c.kind)).all()
    size = connection.execute(select(func.sum(pages.c.size)).where(pages.c.run_id == run_id)).scalar() or 0
    return {
        "pages": count(pages), "items": count(items), "errors": count(errors), "bytes": int(size),
        "statuses": {str(status): n for status, n in sorted(statuses)},
        "errors_by_kind": dict(sorted(kinds)),
    }


def _insert_ignoring_duplicates(connection: Connection) -> Any:
    """INSERT that skips a fingerprint the run already has (the dedupe of record)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # loaded only for PostgreSQL

        return postgresql.insert(frontier).on_conflict_do_nothing(index_elements=["run_id", "fingerprint"])
    return insert(frontier).prefix_with("IGNORE")
