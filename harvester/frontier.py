"""The frontier: every request of a run, kept in the harvest database.

`Frontier` is the small interface the scheduler uses (push, next, done, size).
`DbFrontier` keeps the queue in the `frontier` table, which it owns, so memory
stays bounded however many URLs a crawl discovers, and a stopped or killed run
can resume: `push` gives the row of a new request and `done` the done mark of a
finished one, which go into the outcome of the request that found or finished
them (`harvester.outcome`); the journal writes them with that outcome, in its
transaction, through the frontier's own `insert_found` and `mark_done`.
Requests are claimed from the table in small batches, highest priority first,
as leases held by a worker token.

A run shared by several workers (`harvester worker`) claims through
`harvester.storage.leases`: each claim also takes a slot of its host, so
`per_host` and the delay hold across all workers, and claims go to hosts that
may start now; with `max_pages`, a claim takes only what the run's pages and
claims leave (`leases.budget`), and `run_figures` tells the run's limits the
run's own pages and items, every worker's. Leases are renewed while requests are in progress, and a
worker with nothing to claim waits while any request is queued or claimed:
expired leases are taken over at the next claim.

Every database operation goes through the run's `Health`: a locked, full or
lost database is retried for a bounded time, and while it is no request is
handed out; when it does not come back the run fails, `next` returns None and
the run stops, resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine

from harvester.exceptions import DatabaseError
from harvester.outcome import DoneMark
from harvester.request import Request
from harvester.serialize import request_from_json, request_to_json
from harvester.storage import leases
from harvester.storage.backend import backend_of
from harvester.storage.journal import Journal
from harvester.storage.tables import frontier
from harvester.urls import host_of
from harvester.utc import now

log = logging.getLogger("harvester.frontier")
RECENT = 100_000  # fingerprints remembered in memory, to skip most duplicates without a query
IDLE_WAIT = 1.0  # longest a shared claim waits for a delayed host before the engine looks again
POLL = 0.02  # shortest wait between claims while every host with queued requests waits
LONGEST_POLL = 0.25  # longest: a host whose request ends frees its slot without notice
Claim = tuple[int, str | None, Request]  # a claimed request: its frontier row, its claim's token


FoundRow = dict[str, Any]  # a new request's frontier row, written with the outcome that found it


class Frontier(Protocol):
    """The queue of a run's requests, as the scheduler uses it."""

    def push(self, request: Request) -> FoundRow | None:
        """Queue a request: its row, to be written; None when it is known to be a duplicate (and not `dont_filter`)."""
        ...

    async def next(self) -> Request | None:
        """The highest-priority queued request, or None when nothing is queued."""
        ...

    def row_id(self, request: Request) -> int | None:
        """The frontier row of a request in flight."""
        ...

    def done(self, request: Request) -> DoneMark | None:
        """A request returned by `next` is finished, whatever its outcome: its done mark, to be written."""
        ...

    async def size(self) -> int:
        """How many requests are queued."""
        ...

    async def others_busy(self) -> bool:
        """Whether other workers sharing the run still hold requests in flight."""
        ...


class DbFrontier:
    """The frontier in the harvest database's `frontier` table."""

    def __init__(
        self,
        engine: Engine,
        journal: Journal,
        run_id: int,
        batch: int = 32,
        lease: float = 60.0,
        shared: bool = False,
        per_host: int = 8,
        delay: float = 0.0,
    ) -> None:
        """`shared`: other workers claim from this run too (host slots, `per_host`, `delay`)."""
        self.engine = engine
        self.journal = journal  # requests found so far are written before a claim
        self.health = journal.health
        self.backend = backend_of(engine)
        self.run_id = run_id
        self.batch = batch
        self.lease = dt.timedelta(seconds=lease)
        self.shared = shared
        self.per_host = per_host
        self.delay = delay
        self.worker = uuid.uuid4().hex
        # seconds until a host's next start, as this process's throttle has it (the crawler sets it)
        self.host_wait: Callable[[str], float] = lambda host: 0.0
        self.host_delay: Callable[[str], float] = lambda host: delay  # its delay (Crawl-delay, adaptive)
        self.claim_seconds: list[float] = []  # how long each claim took (benchmarks)
        # shared: `[crawl] max_pages` and `max_items` hold for the run (the crawler sets them), and the
        # run's pages and items as the last claim counted them (every worker's)
        self.max_pages = self.max_items = 0
        self.run_figures = (0, 0)
        self._claimed: list[Claim] = []
        self._ids: dict[int, tuple[int, str | None]] = {}  # id(request) -> frontier row and token, while in flight
        self._recent: set[str] = set()
        self._order: deque[str] = deque()
        self._refill = asyncio.Lock()
        self._freed = asyncio.Event()  # set when a request of this worker is done: its host slot comes back
        self._renewing: asyncio.Task[None] | None = None

    def join(self) -> None:
        """Register as one of the run's workers (blocking; before the crawl starts)."""

        def register() -> None:
            with self.engine.begin() as connection:
                leases.join(connection, self.run_id, self.worker)

        self.health.patience.call(register, "join the run in")

    async def close(self) -> None:
        """Stop renewing leases (the journal's close releases what is still claimed)."""
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
        if self.shared and self.claim_seconds:
            times = sorted(self.claim_seconds)
            log.info(
                "claims: %d, median %.1f ms, 95th percentile %.1f ms",
                len(times),
                1000 * times[len(times) // 2],
                1000 * times[int(len(times) * 0.95)],
            )

    def push(self, request: Request) -> FoundRow | None:
        """Queue a request: its row, to be written; None when it is known to be a duplicate (and not `dont_filter`)."""
        key = request.fingerprint
        if request.dont_filter:
            key = f"{key}:{uuid.uuid4().hex[:12]}"
        elif key in self._recent:
            return None
        else:
            self._recent.add(key)
            self._order.append(key)
            if len(self._order) > RECENT:  # the oldest is forgotten: the table's unique index still dedupes
                self._recent.discard(self._order.popleft())
        return {
            "run_id": self.run_id,
            "fingerprint": key,
            "host": host_of(request.url),
            "priority": request.priority,
            "request": request_to_json(request),
            "state": "queued",
        }

    def insert_found(self, connection: Connection, found: list[FoundRow]) -> None:
        """Insert the rows of newly found requests, skipping fingerprints the run has (the dedupe of record)."""
        if self.shared:  # a host's row is its slot across workers; a joining worker adds the rest
            leases.add_hosts(connection, self.run_id, [row["host"] for row in found])
        self.backend.insert(connection, frontier, found, ignore=("run_id", "fingerprint"))

    def mark_done(self, connection: Connection, done: list[DoneMark]) -> set[int]:
        """Mark finished requests done, each only while it holds its claim's token; the ids marked."""
        return leases.commit_done(connection, done)

    async def next(self) -> Request | None:
        """The highest-priority queued request (claimed in batches), or None when nothing is queued."""
        if not await self.journal.steady():  # a bad day: no new request until the database is back
            return None  # the run failed: it stops (the journal has told it)
        if self.shared and self._renewing is None:
            self._renewing = asyncio.create_task(self._renew())
        async with self._refill:  # one refill at a time: the others wait for its batch
            if not self._claimed:
                if not self.shared and self.journal.pending():
                    await self.journal.flush()  # requests found so far must be in the table to be claimed
                if self.health.failure is not None:
                    return None
                try:
                    claimed = await self._claim_waiting() if self.shared else await self._claim_now(self._claim)
                except DatabaseError:
                    return None
                self._claimed = claimed[::-1]
        if not self._claimed or self.health.failure is not None:
            return None
        row_id, token, request = self._claimed.pop()
        self._ids[id(request)] = (row_id, token)
        return request

    async def _claim_now(self, claim: Callable[[], list[Claim]]) -> list[Claim]:
        began = time.perf_counter()
        async with self.journal.lock:
            claimed: list[Claim] = await self.health.retrying(claim, "claim requests from")
        self.claim_seconds.append(time.perf_counter() - began)
        return claimed

    async def _claim_waiting(self) -> list[Claim]:
        """A shared claim; while queued requests wait for their hosts, claim again when the first
        host's next start comes (for up to IDLE_WAIT)."""
        deadline = time.monotonic() + IDLE_WAIT
        while True:
            self._freed.clear()
            began = time.perf_counter()
            # In the journal's transaction, after what it has to write: the done marks of this worker's
            # finished requests give their host slots back to this claim, and the requests they found
            # can be claimed. Only as many as this worker has free: a claimed request holds its host's slot.
            wanted = max(1, self.batch - len(self._ids))
            claimed = await self.journal.flush(functools.partial(self._claim_shared, wanted=wanted))
            self.claim_seconds.append(time.perf_counter() - began)
            if claimed is None:
                return []  # the database failed: the run's health tells it
            if claimed or time.monotonic() > deadline or self.health.failure is not None:
                return claimed
            ready = await self.health.retrying(self._next_ready, "read")
            if ready is None:
                return []  # nothing queued
            # claim again when a request of this worker is done, or after a poll (another worker's)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(max(POLL, (ready - now()).total_seconds()), LONGEST_POLL)):
                    await self._freed.wait()

    def _claim_shared(self, connection: Connection, wanted: int) -> list[Claim]:
        """Claim up to `wanted` requests of the shared run, within its limits, in `connection`'s transaction."""
        batch: int | None = wanted
        if self.max_pages or self.max_items:  # the run's limits, counted across its workers
            left, pages, items = leases.budget(connection, self.run_id, self.max_pages, self.max_items)
            self.run_figures = (pages, items)
            batch = wanted if left is None else min(wanted, left)
        if not batch:
            return []
        rows = leases.claim(
            connection, self.run_id, self.worker, batch, self.per_host, self.delay, self.lease.total_seconds()
        )
        return [(row.id, row.token, request_from_json(row.request)) for row in rows]

    def _next_ready(self) -> dt.datetime | None:
        with self.engine.connect() as connection:
            return leases.next_ready(connection, self.run_id)

    async def _renew(self) -> None:
        """Renew this worker's leases while it runs: a request in progress outlives any one lease."""
        every = max(0.1, self.lease.total_seconds() / 3)

        def renew() -> None:
            with self.engine.begin() as connection:
                leases.renew(connection, self.run_id, self.worker, self.lease.total_seconds())

        while self.health.failure is None:
            await asyncio.sleep(every)
            with contextlib.suppress(DatabaseError):  # a failure fails the run: its health tells it
                await self.health.retrying(renew, "renew leases in")

    def row_id(self, request: Request) -> int | None:
        """The frontier row of a request in flight."""
        held = self._ids.get(id(request))
        return held[0] if held is not None else None

    def done(self, request: Request) -> DoneMark | None:
        """A request returned by `next` is finished: its done mark, to be written with its outcome."""
        held = self._ids.pop(id(request), None)
        if held is None:
            return None
        self._freed.set()
        next_start = None
        if self.shared:  # this worker's delays (Crawl-delay, Retry-After) hold for every worker
            host = host_of(request.url)
            rest = self.host_wait(host)
            if self.per_host == 1:
                # The request reached the server at some moment before its response came back; no
                # worker knows when. Counting the delay from now, the spacing holds as the server sees it.
                rest = max(rest, self.host_delay(host))
            next_start = now() + dt.timedelta(seconds=rest)
        return held[0], held[1], next_start

    async def size(self) -> int:
        """Requests queued (as far as is known: on a bad day, those claimed)."""

        def count() -> int:
            with self.engine.connect() as connection:
                query = select(func.count()).where(frontier.c.run_id == self.run_id, frontier.c.state == "queued")
                return int(connection.execute(query).scalar() or 0)

        try:
            queued = 0 if self.health.failure is not None else await self.health.retrying(count, "read")
        except DatabaseError:
            queued = 0
        return queued + len(self._claimed)

    def _claim(self) -> list[Claim]:
        """Claim up to `batch` queued requests, atomically even with other workers claiming too.

        The UPDATE comes first, so two workers can never claim one row: on
        SQLite it holds the database's write lock, on PostgreSQL the row locks
        are skipped by the other claimers and `state` is checked again. It
        returns the rows it claimed, found through the claim-order index.
        """
        token = uuid.uuid4().hex
        chosen = self.backend.skip_locked(
            select(frontier.c.id)
            .where(frontier.c.run_id == self.run_id, frontier.c.state == "queued")
            .order_by(frontier.c.priority.desc(), frontier.c.id)
            .limit(self.batch)
        )
        claim = (
            update(frontier)
            .where(frontier.c.id.in_(chosen.scalar_subquery()), frontier.c.state == "queued")
            .values(state="claimed", worker=self.worker, token=token, lease_until=now() + self.lease)
            .returning(frontier.c.id, frontier.c.priority, frontier.c.request)
        )
        with self.engine.begin() as connection:
            rows = sorted(connection.execute(claim), key=lambda row: (-row.priority, row.id))
        return [(row.id, token, request_from_json(row.request)) for row in rows]

    async def others_busy(self) -> bool:
        """Whether the run may still have work for this worker.

        Shared: any request queued (its host may start later) or claimed (by a
        live worker, or by a dead one whose lease this worker will take over).
        Otherwise: another worker holds a live lease.
        """

        def check() -> bool:
            with self.engine.connect() as connection:
                if self.shared:
                    return leases.unfinished(connection, self.run_id)
                query = (
                    select(frontier.c.id)
                    .where(
                        frontier.c.run_id == self.run_id,
                        frontier.c.state == "claimed",
                        frontier.c.worker != self.worker,
                        frontier.c.lease_until > now(),
                    )
                    .limit(1)
                )
                return connection.execute(query).first() is not None

        if self.health.failure is not None:
            return False
        try:
            return bool(await self.health.retrying(check, "read"))
        except DatabaseError:
            return False  # the run failed: nobody waits for the others

    def release_claims(self, expired_only: bool = False) -> int:
        """Requests claimed by a process that is gone go back to the queue (at resume).

        With `expired_only`, only claims whose lease ran out: other workers may be alive.
        """
        query = update(frontier).where(frontier.c.run_id == self.run_id, frontier.c.state == "claimed")
        if expired_only:
            query = query.where(frontier.c.lease_until < now())

        def release() -> int:
            with self.engine.begin() as connection:
                return (
                    connection.execute(query.values(state="queued", worker=None, token=None, lease_until=None)).rowcount
                    or 0
                )

        return self.health.patience.call(release, "release claims in")
