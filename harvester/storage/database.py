"""Opening the harvest database: SQLite (WAL) by default, PostgreSQL (psycopg 3) by URL.

What differs between the two is the database's backend (`harvester.storage.backend`),
chosen here; any other database is refused in one line.

A new SQLite database is created 0600 (`harvester.storage.files`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from harvester.exceptions import DatabaseError
from harvester.storage.backend import backend_of
from harvester.storage.files import create_private
from harvester.storage.retry import PATIENCE, reason

LOCKED = re.compile(r"database is locked|database is busy|database table is locked", re.IGNORECASE)


def open_engine(url: str, must_exist: bool = False, patience: float = PATIENCE) -> Engine:
    """An engine for `url`, checked to be reachable; one clear error otherwise.

    With `must_exist`, a SQLite file that is not there is an error, not a new database.
    SQLite waits for another process's write lock up to 10 s per statement, or a
    quarter of `patience` (`harvester.storage.retry`) if that is less.
    """
    if must_exist:
        _check_exists(url)
    else:
        _create_private(url)
    url = _with_driver(url)
    try:
        engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"bad database URL {safe_url(url)}: {exc}") from None
    try:
        backend_of(engine).on_open(engine, patience)  # the backend is chosen here, once
    except DatabaseError:
        engine.dispose()
        raise
    try:
        _probe(engine, patience)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot open database {safe_url(url)}: {reason(exc)}") from None
    return engine


def _probe(engine: Engine, patience: float) -> None:
    """One query; a database locked or busy (workers starting at the same moment) is waited for."""
    deadline = time.monotonic() + patience
    wait = 0.05
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            return
        except OperationalError as exc:
            if not LOCKED.search(reason(exc)) or time.monotonic() + wait > deadline:
                raise
        time.sleep(wait)
        wait = min(2 * wait, 1.0)


def _with_driver(url: str) -> str:
    """`postgresql://` means psycopg 3, the driver Harvester installs (SQLAlchemy's default is psycopg2)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _check_exists(url: str) -> None:
    path = _sqlite_path(url)
    if path is not None and not Path(path).exists():
        raise DatabaseError(f"no harvest database at {path}; run a crawl first")


def _create_private(url: str) -> None:
    """A new SQLite database file is created 0600 (its -wal and -shm files follow it)."""
    path = _sqlite_path(url)
    if path is None:
        return
    try:
        create_private(path)
    except OSError as exc:
        raise DatabaseError(f"cannot open database {safe_url(url)}: {exc.strerror}") from None


def _sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL; None for another database, memory, or a `file:` URI."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or path in (None, "", ":memory:") or parsed.query.get("uri"):
        return None
    return path


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"
