"""The `runs` table: starting a run, and finding the unfinished one a resume continues.

A run stopped by a signal is `interrupted`. A run whose process died
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
from sqlalchemy.engine import Engine

from harvester.exceptions import HarvesterError
from harvester.storage.journal import now
from harvester.storage.tables import runs

OWNER = f"{socket.gethostname()}:{os.getpid()}"


class RunBusy(HarvesterError):
    """The run to resume is still running in another live process."""


def start_run(engine: Engine, spider: str, job: str | None = None) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            insert(runs).values(spider=spider, job=job, started_at=now(), status="running", stats={},
                                owner=OWNER, heartbeat_at=now())
        )
        return int(result.inserted_primary_key[0])


def resumable_run(engine: Engine, spider: str, job: str | None = None, lease: float = 60.0) -> dict[str, Any] | None:
    """The newest unfinished run of `spider` (of `job`, if given), or None."""
    query = select(runs).where(runs.c.spider == spider).order_by(runs.c.id.desc()).limit(1)
    if job is not None:
        query = query.where(runs.c.job == job)
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None or row["status"] not in ("running", "interrupted"):
        return None
    if row["status"] == "running" and _alive(row, lease):
        raise RunBusy(f"run {row['id']} of {spider!r} is still running ({row['owner']})")
    return dict(row)


def take_over(engine: Engine, run_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(runs).where(runs.c.id == run_id)
            .values(status="running", finished_at=None, owner=OWNER, heartbeat_at=now())
        )


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
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=dt.UTC)
    return now() - beat < dt.timedelta(seconds=2 * lease)
