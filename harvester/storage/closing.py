"""Closing a run: what is left written, its figures recounted from its rows, its status set.

When the run closes, its figures are recounted from its rows, so `runs.stats`
agrees with the tables after any number of kills and resumes. A run whose
SQLite file vanished or was replaced under it writes nothing more. A run
that ends `finished` has nothing left to resume: its queue is history
(`harvester.storage.leases.forget`).

A worker of a shared run leaves it instead (`harvester.storage.leases.leave`):
the last one out gives the run its status. A worker closed by a limit
(`max_pages`, ...) or `CloseSpider` ends the run `finished` as a one-process
run does, once no other worker is live, whatever is still queued.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
from typing import Any

from sqlalchemy import update

from harvester.exceptions import DatabaseError
from harvester.stats import Stats
from harvester.storage.journal import Journal
from harvester.storage.leases import forget, leave
from harvester.storage.recount import recount
from harvester.storage.tables import runs


async def close_run(
    journal: Journal,
    status: str,
    figures: Stats | None = None,
    worker: str | None = None,
    lease: float = 60.0,
    closed_early: bool = False,
) -> None:
    """Write what is left, then close the run with `status` and its figures recounted from its rows.

    `figures`: the run's figures, taken from its rows; `worker`: this process's
    id in a shared run; `closed_early`: a limit or `CloseSpider` closed it with
    requests still queued.
    """
    health = journal.health
    await journal.stop()
    health.check_file()
    if health.failure is None:
        await journal.flush()
        health.check_file()
    if health.failure is not None:
        status = "failed"
        if health.file_replaced():
            return
    engine, run_id = journal.engine, journal.run_id
    with contextlib.suppress(DatabaseError):  # the figures counted in memory stay, then
        counted = await health.patience.run(lambda: recount(engine, run_id), "read")
        if figures is not None:
            _take(figures, counted)
    stats = journal.heartbeat.figures()

    def close() -> None:
        with engine.begin() as connection:
            closing: str | None = status
            if worker is not None:  # a shared run: the last worker out closes it
                closing = leave(connection, run_id, worker, status, lease, closed_early)
            values: dict[str, Any] = {"stats": stats, "heartbeat_at": dt.datetime.now(dt.UTC)}
            if closing is not None:
                values.update(status=closing, finished_at=dt.datetime.now(dt.UTC))
            connection.execute(update(runs).where(runs.c.id == run_id).values(**values))
            if closing == "finished":  # nothing left to resume: the queue is history
                forget(connection, run_id)

    try:
        await health.patience.run(close, "close the run in")
    except DatabaseError as exc:
        health.fail(exc)  # unless the run failed before; it stays resumable all the same


def _take(figures: Stats, counted: dict[str, Any]) -> None:
    """Take the figures counted from the rows; items only if the run stored some (`store` pipeline)."""
    figures.pages, figures.errors, figures.bytes = counted["pages"], counted["errors"], counted["bytes"]
    figures.statuses = collections.Counter({int(k): v for k, v in counted["statuses"].items()})
    figures.error_kinds = collections.Counter(counted["errors_by_kind"])
    if counted["items"]:
        figures.items = counted["items"]
