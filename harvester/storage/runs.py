"""The `runs` table: starting a run, and finding the unfinished one a resume continues.

A run stopped by a signal is `interrupted`; one stopped by its database
(locked, full or gone for longer than `[storage] patience`) is `failed`;
both are resumed alike. A run whose process died
(kill -9, power loss) is still `running`; it counts as dead when its owner
process is gone from this host, or, for another host, when its heartbeat is
older than twice the lease.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from harvester.exceptions import HarvesterError
from harvester.run import RunStatus
from harvester.storage.backend import backend_of
from harvester.storage.recount import count_rows
from harvester.storage.retry import PATIENCE, Patience
from harvester.storage.tables import runs
from harvester.utc import aware, now

OWNER = f"{socket.gethostname()}:{os.getpid()}"


class RunBusy(HarvesterError):
    """The run to resume is still running in another live process."""


RESUMABLE = (RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.FAILED)


def open_run(
    engine: Engine,
    spider: str,
    job: str | None = None,
    resume: bool = False,
    lease: float = 60.0,
    join: bool = False,
    patience: float = PATIENCE,
) -> tuple[int, dict[str, Any] | None]:
    """A run to work on: (id, figures so far) of the unfinished run taken over, or (id, None) of a new one.

    With `resume` the newest unfinished run of `spider` (of `job`, if given) is
    taken over, its figures counted again from its rows. Checking and
    starting happen under a database lock, so two schedulers can never start
    the same job twice; a live run is `RunBusy`.
    """
    return Patience(patience).call(lambda: _open_run(engine, spider, job, resume, lease, join), "start a run in")


def _open_run(
    engine: Engine, spider: str, job: str | None, resume: bool, lease: float, join: bool
) -> tuple[int, dict[str, Any] | None]:
    with engine.begin() as connection:
        _lock(connection, f"{spider}/{job or ''}")
        query = select(runs).where(runs.c.spider == spider).order_by(runs.c.id.desc()).limit(1)
        if job is not None:
            query = query.where(runs.c.job == job)
        row = connection.execute(query).mappings().first()
        if join and row is not None and row["status"] in RESUMABLE:
            return int(row["id"]), dict(row["stats"] or {})  # one more worker on a shared run
        if (resume or job) and row is not None and row["status"] == RunStatus.RUNNING and _alive(row, lease):
            what = f"job {job!r}" if job else f"spider {spider!r}"
            raise RunBusy(f"{what} is already running (run {row['id']}, {row['owner']})")
        if resume and row is not None and row["status"] in RESUMABLE:
            connection.execute(
                update(runs)
                .where(runs.c.id == row["id"])
                .values(status=RunStatus.RUNNING, finished_at=None, owner=OWNER, heartbeat_at=now())
            )
            counted = count_rows(connection, int(row["id"]))
            if not counted["items"]:
                del counted["items"]  # a run that stores none (no store pipeline) keeps the figure it counted
            return int(row["id"]), {**(row["stats"] or {}), **counted}
        result = connection.execute(
            insert(runs).values(
                spider=spider,
                job=job,
                started_at=now(),
                status=RunStatus.RUNNING,
                stats={},
                owner=OWNER,
                heartbeat_at=now(),
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT of one row
        return int(key[0]), None


def shared_stats(
    engine: Engine, run_id: int, seconds: float, close_reason: str | None = None, patience: float = PATIENCE
) -> dict[str, Any]:
    """A shared run's figures, counted from its rows (each worker knows only its own), with why it closed."""

    def count() -> dict[str, Any]:
        with engine.begin() as connection:
            result: dict[str, Any] = count_rows(connection, run_id)
            if close_reason:
                result["close_reason"] = close_reason
            result["seconds"] = round(seconds, 3)
            result["pages_per_second"] = round(result["pages"] / seconds, 1) if seconds > 0 else 0.0
            connection.execute(update(runs).where(runs.c.id == run_id).values(stats=result))
        return result

    return Patience(patience).call(count, "count the run's rows in")


def _lock(connection: Connection, name: str) -> None:
    """Hold a lock on `name` until the transaction ends."""
    backend_of(connection).lock(connection, name)


def _alive(row: Any, lease: float) -> bool:
    """Its process still exists on this host (or another host's run still beats), and it beat lately."""
    host, _, pid = (row["owner"] or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
    beat = row["heartbeat_at"]
    if beat is None:
        return False
    return now() - aware(beat) < dt.timedelta(seconds=2 * lease)
