"""Bad days: transient database failures retried with backoff, for a bounded time.

A database that is locked or busy (another process holds SQLite's write
lock), full (the disk, or SQLite's page limit), or whose connection was lost
(a PostgreSQL restart) may well work again in a moment. Every operation of a
run goes through `Patience`: it retries such a failure with backoff until
`[storage] patience` seconds have passed since the operation began, then gives
up with one `DatabaseError`, which fails the run (a failed run is
resumable). Any other failure (a missing table, a syntax error) is not
retried. Either way the caller gets a `DatabaseError` and never a driver
exception.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from harvester.exceptions import DatabaseError

log = logging.getLogger("harvester.storage")
T = TypeVar("T")
PATIENCE = 60.0  # seconds: `[storage] patience`
FIRST_WAIT = 0.1
LONGEST_WAIT = 2.0
# SQLite's SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL and SQLITE_PROTOCOL texts; PostgreSQL's lost
# connections, restarts, serialization failures and deadlocks (psycopg's texts)
_TRANSIENT = re.compile(
    r"database is locked|database table is locked|database is busy|database schema is locked"
    r"|disk is full|database or disk is full|locking protocol"
    r"|connection|server closed|terminating|shutting down|starting up|recovery mode|timeout|timed out"
    r"|could not serialize|deadlock detected|ssl syscall|eof detected",
    re.IGNORECASE,
)


def reason(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's SQL and background link."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def transient(exc: BaseException) -> bool:
    """Whether a database error may go away by itself: locked, busy, full, connection lost."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, SQLAlchemyError) and _TRANSIENT.search(reason(exc)) is not None


class Patience:
    """Runs database operations, retrying transient failures for up to `seconds` from their start."""

    def __init__(self, seconds: float = PATIENCE, what: str = "the harvest database") -> None:
        self.seconds = seconds
        self.what = what

    def call(self, operation: Callable[[], T], doing: str = "use") -> T:
        """`operation()` in this thread, retried while its failure is transient (blocking)."""
        attempts = _Attempts(self, doing)
        while True:
            try:
                result = operation()
            except SQLAlchemyError as exc:
                time.sleep(attempts.failed(exc))
            else:
                attempts.done()
                return result

    async def run(
        self, operation: Callable[[], T], doing: str = "use", on_trouble: Callable[[], None] | None = None
    ) -> T:
        """`operation()` in a worker thread, retried while its failure is transient; the event loop runs on.

        `on_trouble` is called once, when a first failure is going to be retried.
        """
        attempts = _Attempts(self, doing)
        while True:
            try:
                result = await asyncio.to_thread(operation)
            except SQLAlchemyError as exc:
                wait = attempts.failed(exc)
                if on_trouble is not None:
                    on_trouble()
                    on_trouble = None
                await asyncio.sleep(wait)
            else:
                attempts.done()
                return result


class _Attempts:
    """The failures of one operation so far: how long to wait before the next try, or give up."""

    def __init__(self, patience: Patience, doing: str) -> None:
        self.patience = patience
        self.doing = doing
        self.began = time.monotonic()
        self.failing = False
        self.wait = FIRST_WAIT

    def failed(self, exc: SQLAlchemyError) -> float:
        """The seconds to wait before trying again; a `DatabaseError` once it is time to give up."""
        now = time.monotonic()
        what = f"{self.doing} {self.patience.what}"
        if not transient(exc):
            raise DatabaseError(f"cannot {what}: {reason(exc)}") from None
        if not self.failing:
            self.failing = True
            if self.patience.seconds > 0:
                log.warning("cannot %s (%s); retrying for up to %g s", what, reason(exc), self.patience.seconds)
        waited = now - self.began
        if waited >= self.patience.seconds:
            raise DatabaseError(f"cannot {what} (tried for {waited:.0f} s): {reason(exc)}") from None
        wait, self.wait = self.wait, min(self.wait * 2, LONGEST_WAIT)
        return min(wait, self.patience.seconds - waited)

    def done(self) -> None:
        if self.failing:
            log.warning("%s works again after %.1f s", self.patience.what, time.monotonic() - self.began)
