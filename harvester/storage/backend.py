"""What differs between SQLite and PostgreSQL for shared runs, in one place.

PostgreSQL lets claimers lock rows and skip those another claimer holds
(`FOR UPDATE SKIP LOCKED`); SQLite has one writer, so a transaction that
takes the write lock first sees and changes the database alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Table, update
from sqlalchemy.engine import Connection

from harvester.storage.tables import runs


def postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def write_lock(connection: Connection) -> None:
    """SQLite: take the database's write lock now, so what this transaction reads stays true."""
    if not postgres(connection):
        connection.execute(update(runs).where(runs.c.id == -1).values(status="running"))


def skip_locked(query: Select[Any], connection: Connection) -> Select[Any]:
    """Lock the rows selected, passing over rows another transaction holds (PostgreSQL)."""
    return query.with_for_update(skip_locked=True) if postgres(connection) else query


def for_update(query: Select[Any], connection: Connection) -> Select[Any]:
    """Lock the rows selected, waiting for another transaction that holds them (PostgreSQL)."""
    return query.with_for_update() if postgres(connection) else query


def insert_ignoring(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert `rows`, skipping those whose `keys` a stored row already has."""
    if not rows:
        return
    if postgres(connection):
        from sqlalchemy.dialects import postgresql  # loaded only for PostgreSQL

        connection.execute(postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys)), rows)
    else:
        from sqlalchemy.dialects import sqlite

        connection.execute(sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys)), rows)


