"""The run's heartbeat: its figures and `heartbeat_at`, renewed with a journal write once a second.

A run whose heartbeat is old is taken for dead (`harvester.storage.runs`);
the figures in `runs.stats` let `harvester runs` show a run in progress.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from harvester.storage.tables import runs

BEAT_SECONDS = 1.0


class Heartbeat:
    """When the run's row is due to be renewed, and the renewal."""

    def __init__(self, run_id: int, figures: Callable[[], dict[str, Any]]) -> None:
        """`figures`: the run's figures as JSON, read at each beat."""
        self.run_id = run_id
        self.figures = figures
        self._last = 0.0

    def due(self) -> bool:
        """Whether a beat is due now; if so, it counts as given."""
        moment = time.monotonic()
        if moment - self._last < BEAT_SECONDS:
            return False
        self._last = moment
        return True

    def write(self, connection: Connection, figures: dict[str, Any]) -> None:
        """Renew the run's figures and heartbeat in `connection`'s transaction."""
        connection.execute(
            update(runs).where(runs.c.id == self.run_id).values(stats=figures, heartbeat_at=dt.datetime.now(dt.UTC))
        )
