"""The run's database health: operations retried through a bad day, and the run's failure.

Every database operation of a run (the journal's writes, the frontier's
claims and reads) goes through `Health.retrying`: off the event loop, retried
with backoff for `[storage] patience` seconds (`harvester.storage.retry`).
While one is retried the database is not `steady`, and the frontier hands out
no new requests, so only the requests in flight are at stake. When the
database does not come back, or its SQLite file vanished or was replaced
under the run (`check_file`), the run fails: `failure` is set and
`on_failure` is told, once; the run stops `failed`, resumable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from harvester.exceptions import DatabaseError
from harvester.storage.files import FileIdentity
from harvester.storage.retry import PATIENCE, Patience


class Health:
    """Whether the run's database works: retries, the steady signal, the first failure."""

    def __init__(self, engine: Engine, patience: float = PATIENCE) -> None:
        self.patience = Patience(patience)
        self.file = FileIdentity.of(engine)  # a SQLite file: the one this run writes to
        self.on_failure: Callable[[DatabaseError], None] = lambda exc: None
        self.failure: DatabaseError | None = None
        self.steady = asyncio.Event()  # set unless an operation is being retried
        self.steady.set()
        self._troubled = 0  # operations being retried

    async def retrying(self, operation: Callable[[], Any], doing: str) -> Any:
        """`operation()` off the event loop, retried through a bad day; a final failure fails the run."""
        troubled = False

        def trouble() -> None:
            nonlocal troubled
            troubled = True
            self._troubled += 1
            self.steady.clear()

        try:
            return await self.patience.run(operation, doing, on_trouble=trouble)
        except DatabaseError as exc:
            raise self.fail(exc) from None
        finally:
            if troubled:
                self._troubled -= 1
            if not self._troubled:
                self.steady.set()

    def fail(self, error: DatabaseError) -> DatabaseError:
        """Remember the first failure of the run's database and tell the run, once."""
        if self.failure is None:
            self.failure = error
            self.steady.set()  # nobody waits for a database that is gone
            self.on_failure(error)
        return self.failure

    def check_file(self) -> None:
        """Fail the run if its SQLite file vanished or was replaced: what it writes would be lost."""
        if self.file is not None and self.failure is None:
            change = self.file.change()
            if change:
                self.fail(DatabaseError(change))

    def file_replaced(self) -> bool:
        """Whether the run's SQLite file vanished or was replaced (then nothing more is written)."""
        return self.file is not None and bool(self.file.change())
