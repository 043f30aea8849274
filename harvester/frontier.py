"""The frontier: every request of a run, kept in the harvest database.

`Frontier` is the small interface the engine uses (push, next, done, size).
`DbFrontier` keeps the queue in the `frontier` table, so memory stays bounded
however many URLs a crawl discovers, and a stopped or killed run can resume:
new requests are written with the unit of the request that found them
(`harvester.storage.journal`), and requests are claimed from the table in
small batches, highest priority first, as leases held by a worker token.

Every database operation goes through the journal's patience: a locked,
full or lost database is retried for a bounded time, and while it is no
request is handed out; when it does not come back the journal fails the run,
`next` returns None and the run stops, resumable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import deque
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from harvester.exceptions import DatabaseError
from harvester.request import Request
from harvester.serialize import request_from_json, request_to_json
from harvester.storage.journal import Journal, now
from harvester.storage.tables import frontier
from harvester.urls import host_of

RECENT = 100_000  # fingerprints remembered in memory, to skip most duplicates without a query


class Frontier(Protocol):
    def push(self, request: Request) -> bool:
        """Queue a request; False when it is known to be a duplicate (and not `dont_filter`)."""
        ...

    async def next(self) -> Request | None:
        """The highest-priority queued request, or None when nothing is queued."""
        ...

    def row_id(self, request: Request) -> int | None:
        """The frontier row of a request in flight."""
        ...

    def done(self, request: Request) -> None:
        """Mark a request returned by `next` as finished, whatever its outcome."""
        ...

    async def size(self) -> int:
        """How many requests are queued."""
        ...

    async def others_busy(self) -> bool:
        """Whether other workers sharing the run still hold requests in flight."""
        ...


class DbFrontier:
    def __init__(self, engine: Engine, journal: Journal, run_id: int, batch: int = 32, lease: float = 60.0) -> None:
        self.engine = engine
        self.journal = journal
        self.run_id = run_id
        self.batch = batch
        self.lease = dt.timedelta(seconds=lease)
        self.worker = uuid.uuid4().hex
        self._claimed: list[tuple[int, Request]] = []
        self._ids: dict[int, int] = {}  # id(request) -> frontier row id, while it is in flight
        self._recent: set[str] = set()
        self._order: deque[str] = deque()
        self._refill = asyncio.Lock()

    def push(self, request: Request) -> bool:
        key = request.fingerprint
        if request.dont_filter:
            key = f"{key}:{uuid.uuid4().hex[:12]}"
        elif key in self._recent:
            return False
        else:
            self._recent.add(key)
            self._order.append(key)
            if len(self._order) > RECENT:  # the oldest is forgotten: the table's unique index still dedupes
                self._recent.discard(self._order.popleft())
        self.journal.found({
            "run_id": self.run_id, "fingerprint": key, "url": request.url, "host": host_of(request.url),
            "priority": request.priority, "depth": request.depth, "request": request_to_json(request),
            "state": "queued",
        })
        return True

    async def next(self) -> Request | None:
        if not await self.journal.steady():  # a bad day: no new request until the database is back
            return None  # the run failed: it stops (the journal has told it)
        async with self._refill:  # one refill at a time: the others wait for its batch
            if not self._claimed:
                if self.journal.pending():
                    await self.journal.flush()  # requests found so far must be in the table to be claimed
                if self.journal.failure is not None:
                    return None
                try:
                    async with self.journal.lock:
                        claimed = await self.journal.retrying(self._claim, "claim requests from")
                except DatabaseError:
                    return None
                self._claimed = claimed[::-1]
        if not self._claimed or self.journal.failure is not None:
            return None
        row_id, request = self._claimed.pop()
        self._ids[id(request)] = row_id
        return request

    def row_id(self, request: Request) -> int | None:
        return self._ids.get(id(request))

    def done(self, request: Request) -> None:
        row_id = self._ids.pop(id(request), None)
        if row_id is not None:
            self.journal.mark_done(row_id)

    async def size(self) -> int:
        """Requests queued (as far as is known: on a bad day, those claimed)."""
        def count() -> int:
            with self.engine.connect() as connection:
                query = select(func.count()).where(frontier.c.run_id == self.run_id, frontier.c.state == "queued")
                return int(connection.execute(query).scalar() or 0)

        try:
            queued = 0 if self.journal.failure is not None else await self.journal.retrying(count, "read")
        except DatabaseError:
            queued = 0
        return queued + len(self._claimed)

    def _claim(self) -> list[tuple[int, Request]]:
        """Claim up to `batch` queued requests, atomically even with other workers claiming too.

        The UPDATE comes first, so two workers can never claim one row: on
        SQLite it holds the database's write lock, on PostgreSQL the row locks
        are skipped by the other claimers and `state` is checked again. It
        returns the rows it claimed, found through the claim-order index.
        """
        token = f"{self.worker}:{uuid.uuid4().hex[:8]}"
        chosen = (
            select(frontier.c.id)
            .where(frontier.c.run_id == self.run_id, frontier.c.state == "queued")
            .order_by(frontier.c.priority.desc(), frontier.c.id)
            .limit(self.batch)
        )
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                chosen = chosen.with_for_update(skip_locked=True)
            claim = (
                update(frontier)
                .where(frontier.c.id.in_(chosen.scalar_subquery()), frontier.c.state == "queued")
                .values(state="claimed", worker=token, lease_until=now() + self.lease)
            )
            if connection.dialect.update_returning:
                claimed = connection.execute(claim.returning(frontier.c.id, frontier.c.priority, frontier.c.request))
                rows = sorted(claimed, key=lambda row: (-row.priority, row.id))
            else:
                connection.execute(claim)
                rows = connection.execute(
                    select(frontier.c.id, frontier.c.request)
                    .where(frontier.c.run_id == self.run_id, frontier.c.worker == token)
                    .order_by(frontier.c.priority.desc(), frontier.c.id)
                ).all()
        return [(row.id, request_from_json(row.request)) for row in rows]

    async def others_busy(self) -> bool:
        """Whether another worker holds a live lease (its requests may still find new ones)."""
        def check() -> bool:
            query = select(frontier.c.id).where(
                frontier.c.run_id == self.run_id, frontier.c.state == "claimed",
                ~frontier.c.worker.startswith(self.worker), frontier.c.lease_until > now(),
            ).limit(1)
            with self.engine.connect() as connection:
                return connection.execute(query).first() is not None

        if self.journal.failure is not None:
            return False
        try:
            return bool(await self.journal.retrying(check, "read"))
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
                return connection.execute(query.values(state="queued", worker=None, lease_until=None)).rowcount or 0

        return self.journal.patience.call(release, "release claims in")
