"""Leases of a shared run: claims with their host slots, take-overs, renewals, the last worker out.

Several workers share one run's frontier. A claim is a lease on a few
requests: it names the worker, a token of its own and the moment it runs out.
Claiming a request also takes a slot of its host, in the same transaction:
a host may start a request when fewer than `per_host` of its requests are
claimed and its `next_start` has come (the delay, a robots.txt Crawl-delay or a
Retry-After, whichever worker learned it). Claims go to the hosts that may
start now, the highest priority first, so delayed hosts wait without holding
anyone's slots.

A claim whose lease ran out (its worker died or stalled) goes back to the
queue at the next claim of any worker, under a new token: the outcome the
stale worker may still write is dropped (`commit_done`). A done row keeps the
token of the claim that finished it. With `max_pages`, a claim takes no more
than the run's pages and claims leave under it (`budget`), so workers together
never pass it. A run is finished by
the worker that finds, in the transaction that marks it, no request queued or
claimed.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from harvester.storage.backend import backend_of
from harvester.storage.tables import frontier, frontier_hosts, items, pages, runs, workers
from harvester.utc import aware, now

HOST = socket.gethostname()
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def claim(
    connection: Connection, run_id: int, worker: str, batch: int, per_host: int, delay: float, lease: float
) -> list[Row[Any]]:
    """Claim up to `batch` queued requests of hosts that may start now, with their host slots.

    On PostgreSQL the hosts' rows are locked (another claimer skips them), on
    SQLite the write lock is taken first, so two workers never take one slot.
    With a delay, one request per host: the next may start only after it.
    """
    backend = backend_of(connection)
    backend.write_lock(connection)
    moment = now()
    take_over(connection, run_id, moment)
    host_match = and_(frontier.c.run_id == frontier_hosts.c.run_id, frontier.c.host == frontier_hosts.c.host)
    held = select(func.count()).where(host_match, frontier.c.state == "claimed").scalar_subquery()
    top = select(func.max(frontier.c.priority)).where(host_match, frontier.c.state == "queued").scalar_subquery()
    ready = (
        select(frontier_hosts.c.host)
        .where(
            frontier_hosts.c.run_id == run_id,
            held < per_host,
            top.is_not(None),
            or_(frontier_hosts.c.next_start.is_(None), frontier_hosts.c.next_start <= moment),
        )
        .order_by(top.desc(), frontier_hosts.c.next_start.asc().nulls_first(), frontier_hosts.c.host)
        .limit(batch)
    )
    locked = [row.host for row in connection.execute(backend.skip_locked(ready))]
    if not locked:
        return []
    # counted again now the hosts are locked: a claim that committed meanwhile is seen
    held_now: dict[str, int] = dict(
        connection.execute(
            select(frontier.c.host, func.count())
            .where(frontier.c.run_id == run_id, frontier.c.state == "claimed", frontier.c.host.in_(locked))
            .group_by(frontier.c.host)
        ).all()
    )
    free = {host: per_host - held_now.get(host, 0) for host in locked if held_now.get(host, 0) < per_host}
    if not free:
        return []
    # each host's first queued requests, read in the (run_id, host, state, priority, id) index's
    # order: a LIMIT per host, not a sort of its whole queue; then round robin over the hosts
    candidates: list[tuple[int, int, int]] = []  # (rank in its host, -priority, id)
    for host, slots in free.items():
        rows = connection.execute(
            _FIRST_QUEUED, {"b_run": run_id, "b_host": host, "b_limit": min(1 if delay > 0 else slots, batch)}
        )
        candidates.extend((rank, -priority, row_id) for rank, (row_id, priority) in enumerate(rows))
    chosen = [row_id for _, _, row_id in sorted(candidates)[:batch]]
    claimed = connection.execute(
        update(frontier)
        .where(frontier.c.id.in_(chosen), frontier.c.state == "queued")
        .values(
            state="claimed", worker=worker, token=uuid.uuid4().hex, lease_until=moment + dt.timedelta(seconds=lease)
        )
        .returning(frontier.c.id, frontier.c.host, frontier.c.priority, frontier.c.request, frontier.c.token)
    ).all()
    if delay > 0 and claimed:  # the next start of each host waits at least the delay (refined at done)
        connection.execute(
            update(frontier_hosts)
            .where(frontier_hosts.c.run_id == run_id, frontier_hosts.c.host.in_({row.host for row in claimed}))
            .values(next_start=moment + dt.timedelta(seconds=delay))
        )
    return sorted(claimed, key=lambda row: (-row.priority, row.id))


_FIRST_QUEUED = (
    select(frontier.c.id, frontier.c.priority)
    .where(
        frontier.c.run_id == bindparam("b_run"), frontier.c.host == bindparam("b_host"), frontier.c.state == "queued"
    )
    .order_by(frontier.c.priority.desc(), frontier.c.id)
    .limit(bindparam("b_limit"))
)


def budget(connection: Connection, run_id: int, max_pages: int, max_items: int) -> tuple[int | None, int, int]:
    """What the run's limits leave to claim, across its workers: (requests, the run's pages, its items).

    Every request claimed under a live lease may still become a page, so a claim may take at
    most `max_pages` less the run's pages and those requests (None: no limit). A claim whose
    lease ran out (its worker died) is not counted: it goes back to the queue.
    Counted under the run's lock, held to the end of the claim's transaction:
    two workers never claim the same share.
    """
    backend = backend_of(connection)
    backend.write_lock(connection)
    connection.execute(backend.for_update(select(runs.c.id).where(runs.c.id == run_id)))

    def count(query: Any) -> int:
        return int(connection.execute(query).scalar() or 0)

    pages_done = count(select(func.count()).select_from(pages).where(pages.c.run_id == run_id))
    items_done = count(select(func.count()).select_from(items).where(items.c.run_id == run_id)) if max_items else 0
    if not max_pages:
        return None, pages_done, items_done
    live = (frontier.c.run_id == run_id, frontier.c.state == "claimed", frontier.c.lease_until >= now())
    claimed = count(select(func.count()).where(*live))  # a lapsed claim goes back to the queue: not counted
    return max(0, max_pages - pages_done - claimed), pages_done, items_done


def next_ready(connection: Connection, run_id: int) -> dt.datetime | None:
    """The earliest next start of a host with queued requests (None when nothing is queued)."""
    queued = select(frontier.c.id).where(
        frontier.c.run_id == frontier_hosts.c.run_id,
        frontier.c.host == frontier_hosts.c.host,
        frontier.c.state == "queued",
    )
    row = connection.execute(
        select(func.count(), func.min(func.coalesce(frontier_hosts.c.next_start, EPOCH))).where(
            frontier_hosts.c.run_id == run_id, queued.exists()
        )
    ).first()
    if row is None or not row[0]:
        return None
    moment = row[1]
    if isinstance(moment, str):  # SQLite gives the aggregate of a timestamp back as text
        moment = dt.datetime.fromisoformat(moment)
    return aware(moment)


def take_over(connection: Connection, run_id: int, moment: dt.datetime | None = None) -> int:
    """Claims whose lease ran out go back to the queue (their old tokens are worth nothing now)."""
    expired = select(frontier.c.id).where(
        frontier.c.run_id == run_id, frontier.c.state == "claimed", frontier.c.lease_until < (moment or now())
    )
    released = connection.execute(
        update(frontier)
        .where(frontier.c.id.in_(backend_of(connection).skip_locked(expired).scalar_subquery()))
        .values(state="queued", worker=None, token=None, lease_until=None)
    )
    return released.rowcount or 0


def add_hosts(connection: Connection, run_id: int, hosts: Sequence[str]) -> None:
    """A row for each host of newly found requests (its slot lock and next start)."""
    backend_of(connection).insert(
        connection,
        frontier_hosts,
        [{"run_id": run_id, "host": host} for host in sorted(set(hosts))],
        ("run_id", "host"),
    )


# A finished request's done mark, only while it holds its claim's token. The token stays on the
# done row: it tells, in the rare batch where a lease was taken over, which rows were ours.
_DONE = (
    update(frontier)
    .where(
        frontier.c.id.in_(bindparam("b_ids", expanding=True)),
        frontier.c.state == "claimed",
        frontier.c.token == bindparam("b_token"),
    )
    .values(state="done", worker=None, lease_until=None)
)
_DONE_TOKENLESS = (  # a claim made before claims had tokens
    update(frontier)
    .where(
        frontier.c.id.in_(bindparam("b_ids", expanding=True)), frontier.c.state == "claimed", frontier.c.token.is_(None)
    )
    .values(state="done", worker=None, lease_until=None)
    .returning(frontier.c.id)
)
_OURS = select(frontier.c.id).where(
    frontier.c.id.in_(bindparam("b_ids", expanding=True)),
    frontier.c.state == "done",
    frontier.c.token == bindparam("b_token"),
)
_HOSTS = select(frontier.c.id, frontier.c.run_id, frontier.c.host).where(
    frontier.c.id.in_(bindparam("b_ids", expanding=True))
)


def commit_done(connection: Connection, done: Sequence[tuple[int, str | None, dt.datetime | None]]) -> set[int]:
    """Mark requests done, each only if it still holds its claim's token; the ids marked.

    `done` holds (frontier id, token, the host's next start as its worker saw it).
    Each host's `next_start` becomes at least the latest of those. A claim gives
    one token to its whole batch, so this is one UPDATE per claim met; which rows
    it marked is read back only when it marked fewer than asked (a lease taken over).
    """
    marked: set[int] = set()
    by_token: dict[str | None, list[int]] = {}
    for row_id, token, _ in done:
        by_token.setdefault(token, []).append(row_id)
    for token, ids in by_token.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            if token is None:
                marked.update(connection.execute(_DONE_TOKENLESS, {"b_ids": chunk}).scalars())
                continue
            count = connection.execute(_DONE, {"b_ids": chunk, "b_token": token}).rowcount
            if count == len(chunk):
                marked.update(chunk)
            elif count:
                marked.update(connection.execute(_OURS, {"b_ids": chunk, "b_token": token}).scalars())
    wanted = {row_id: moment for row_id, _token, moment in done if moment is not None and row_id in marked}
    if wanted:
        _push_next_starts(connection, wanted)
    return marked


def _push_next_starts(connection: Connection, wanted: dict[int, dt.datetime]) -> None:
    """Each host's `next_start` becomes at least the latest moment its finished requests name."""
    next_starts: dict[tuple[int, str], dt.datetime] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        for row in connection.execute(_HOSTS, {"b_ids": ids[start : start + 500]}):
            moment, key = wanted[row.id], (row.run_id, row.host)
            if key not in next_starts or next_starts[key] < moment:
                next_starts[key] = moment
    later: Any = bindparam("b_next")
    connection.execute(
        update(frontier_hosts)
        .where(frontier_hosts.c.run_id == bindparam("b_run"), frontier_hosts.c.host == bindparam("b_host"))
        .values(
            next_start=case(
                (or_(frontier_hosts.c.next_start.is_(None), frontier_hosts.c.next_start < later), later),
                else_=frontier_hosts.c.next_start,
            )
        ),
        [{"b_run": run, "b_host": host, "b_next": moment} for (run, host), moment in sorted(next_starts.items())],
    )


def join(connection: Connection, run_id: int, worker: str) -> None:
    """Register a worker of a shared run; every queued request's host gets its row."""
    connection.execute(
        insert(workers).values(
            id=worker, run_id=run_id, host=HOST, pid=os.getpid(), started_at=now(), heartbeat_at=now()
        )
    )
    hosts = (
        connection.execute(
            select(frontier.c.host).where(frontier.c.run_id == run_id, frontier.c.state != "done").distinct()
        )
        .scalars()
        .all()
    )
    add_hosts(connection, run_id, hosts)


def renew(connection: Connection, run_id: int, worker: str, lease: float) -> int:
    """Renew the leases a worker holds (its requests are still in progress) and its heartbeat."""
    moment = now()
    connection.execute(update(workers).where(workers.c.id == worker).values(heartbeat_at=moment))
    renewed = connection.execute(
        update(frontier)
        .where(frontier.c.run_id == run_id, frontier.c.worker == worker, frontier.c.state == "claimed")
        .values(lease_until=moment + dt.timedelta(seconds=lease))
    )
    return renewed.rowcount or 0


def unfinished(connection: Connection, run_id: int) -> bool:
    """Whether any request of the run is queued or claimed (by anyone, live or not)."""
    query = select(frontier.c.id).where(frontier.c.run_id == run_id, frontier.c.state.in_(("queued", "claimed")))
    return connection.execute(query.limit(1)).first() is not None


def leave(
    connection: Connection, run_id: int, worker: str, status: str, lease: float, closed_early: bool = False
) -> str | None:
    """A worker leaves its shared run: the status to give the run, or None to leave it as it is.

    Its claims go back to the queue. The run is `finished` only when no request
    is queued or claimed, checked under the run's lock in this transaction, or,
    `closed_early` (a limit, `CloseSpider`), when no other worker is live;
    another status (interrupted, failed) is given only when no other worker is live.
    """
    backend = backend_of(connection)
    backend.write_lock(connection)
    current = connection.execute(backend.for_update(select(runs.c.status).where(runs.c.id == run_id))).scalar()
    connection.execute(
        update(frontier)
        .where(frontier.c.run_id == run_id, frontier.c.worker == worker, frontier.c.state == "claimed")
        .values(state="queued", worker=None, token=None, lease_until=None)
    )
    connection.execute(delete(workers).where(workers.c.id == worker))
    if current == "finished":  # a late worker (stalled past its leases): the others finished the run
        return None
    if status == "finished" and not closed_early:
        return None if unfinished(connection, run_id) else "finished"
    live = select(workers.c.id).where(
        workers.c.run_id == run_id, workers.c.heartbeat_at > now() - dt.timedelta(seconds=2 * lease)
    )
    return None if connection.execute(live.limit(1)).first() is not None else status


def forget(connection: Connection, run_id: int) -> None:
    """A finished run's queue, hosts and workers are history."""
    for table in (frontier, frontier_hosts, workers):
        connection.execute(delete(table).where(table.c.run_id == run_id))
