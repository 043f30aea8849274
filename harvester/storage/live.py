"""What a shared run is doing now, read from its rows: its live workers, its queue, its waiting hosts.

`harvester runs` and the live panel show it; each worker knows only its own requests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from harvester.storage.tables import frontier, frontier_hosts, runs, workers
from harvester.utc import aware, now


@dataclass(frozen=True)
class Worker:
    id: str
    host: str
    pid: int
    heartbeat_at: dt.datetime
    held: int  # requests it holds claimed


@dataclass(frozen=True)
class Queue:
    queued: int
    claimed: int
    hosts_waiting: int  # hosts with queued requests that may not start now (delay, or slots taken)
    workers: tuple[Worker, ...]


def queue_of(connection: Connection, run_id: int) -> Queue:
    """The run's queue and its workers, as its rows have them now."""
    states: dict[str, int] = dict(
        connection.execute(
            select(frontier.c.state, func.count())
            .where(frontier.c.run_id == run_id, frontier.c.state.in_(("queued", "claimed")))
            .group_by(frontier.c.state)
        ).all()
    )
    held: dict[str, int] = dict(
        connection.execute(
            select(frontier.c.worker, func.count())
            .where(frontier.c.run_id == run_id, frontier.c.state == "claimed")
            .group_by(frontier.c.worker)
        ).all()
    )
    rows = connection.execute(select(workers).where(workers.c.run_id == run_id).order_by(workers.c.started_at)).all()
    match = and_(frontier_hosts.c.run_id == frontier.c.run_id, frontier_hosts.c.host == frontier.c.host)
    claimed = frontier.alias("claimed")
    busy = (
        select(claimed.c.id)
        .where(claimed.c.run_id == frontier.c.run_id, claimed.c.host == frontier.c.host, claimed.c.state == "claimed")
        .exists()
    )
    waiting = connection.execute(
        select(func.count(func.distinct(frontier.c.host)))
        .select_from(frontier.join(frontier_hosts, match))
        .where(
            frontier.c.run_id == run_id, frontier.c.state == "queued", or_(frontier_hosts.c.next_start > now(), busy)
        )
    ).scalar()
    return Queue(
        queued=int(states.get("queued", 0)),
        claimed=int(states.get("claimed", 0)),
        hosts_waiting=int(waiting or 0),
        workers=tuple(
            Worker(row.id, row.host, row.pid, aware(row.heartbeat_at), int(held.get(row.id, 0))) for row in rows
        ),
    )


def recent_runs(connection: Connection, limit: int = 20) -> list[Any]:
    """The newest runs, newest first."""
    return list(connection.execute(select(runs).order_by(runs.c.id.desc()).limit(limit)).all())
