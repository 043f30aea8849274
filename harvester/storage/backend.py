"""What differs between SQLite and PostgreSQL, in one place: the database's `Backend`.

The backend is chosen once, by the database's kind, when it is opened
(`harvester.storage.database.open_engine` refuses any other kind); every
module that writes or reads the harvest database asks it (`backend_of`) for
what the two do differently, and tests for no database kind itself:

- locking: PostgreSQL locks rows and lets claimers skip those another holds
  (`FOR UPDATE SKIP LOCKED`) and takes named advisory locks; SQLite has one
  writer, so a transaction that takes the write lock first sees and changes
  the database alone;
- inserting many rows: SQLite binds a whole batch as one JSON array
  (`harvester.storage.bulk`), PostgreSQL takes an executemany; both skip
  rows whose unique key is stored already when asked;
- JSON: stored as JSONB on PostgreSQL (whose driver module is loaded only when
  it is used), JSON text on SQLite, and compared field by field in each one's
  functions (`harvester query --where`);
- opening: SQLite's pragmas (WAL, busy timeout), and how a connection is made
  read-only (`harvester.read_only`).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Select,
    String,
    Table,
    and_,
    cast,
    event,
    func,
    insert,
    literal,
    or_,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from harvester.exceptions import DatabaseError, QueryError
from harvester.storage.bulk import insert_rows

_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
_LOCK_WRITES = text("UPDATE runs SET status = 'running' WHERE id = -1")  # no row: the write lock only


class Backend:
    """The operations SQLite and PostgreSQL do differently; `backend_of` gives a database's one."""

    name = ""

    def write_lock(self, connection: Connection) -> None:
        """Take the database's write lock now (SQLite), so what this transaction reads stays true."""

    def lock(self, connection: Connection, name: str) -> None:
        """Hold a lock on `name` until the transaction ends."""
        raise NotImplementedError

    def skip_locked(self, query: Select[Any]) -> Select[Any]:
        """Lock the rows selected, passing over rows another transaction holds (PostgreSQL)."""
        return query

    def for_update(self, query: Select[Any]) -> Select[Any]:
        """Lock the rows selected, waiting for another transaction that holds them (PostgreSQL)."""
        return query

    def insert(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], ignore: Sequence[str] = ()
    ) -> None:
        """Insert `rows`; with `ignore`, a row whose `ignore` columns a stored row already has is skipped."""
        raise NotImplementedError

    def insert_new(
        self,
        connection: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        returning: Sequence[str],
    ) -> list[Any]:
        """Insert `rows` skipping those whose `keys` are stored already; the `returning` columns of those inserted."""
        if not rows:
            return []
        statement = self.insert_ignoring(table, keys).returning(*(table.c[name] for name in returning))
        return list(connection.execute(statement, list(rows)))

    def insert_ignoring(self, table: Table, keys: Sequence[str]) -> Any:
        """An INSERT into `table` that skips a row whose `keys` a stored row already has (ON CONFLICT DO NOTHING)."""
        raise NotImplementedError

    def json_type(self) -> TypeEngine[Any]:
        """The column type JSON is stored as."""
        return JSON()

    def field_equals(self, column: Any, field: str, value: str) -> ColumnElement[bool]:
        """SQL true where the JSON object in `column` has `field` equal to `value` (`harvester.query`)."""
        raise NotImplementedError

    def on_open(self, engine: Engine, patience: float) -> None:
        """Set up each new connection of a database opened for a run."""

    def read_only(self, engine: Engine) -> Engine:
        """`engine`, whose connections cannot write."""
        raise NotImplementedError

    def one_statement(self, engine: Engine) -> bool:
        """Whether raw SQL must go through the server one statement at a time (a read-only PostgreSQL)."""
        return False


class SQLite(Backend):
    """SQLite: one writer at a time, whole batches bound as one JSON array."""

    name = "sqlite"

    def write_lock(self, connection: Connection) -> None:
        connection.execute(_LOCK_WRITES)

    def lock(self, connection: Connection, name: str) -> None:
        self.write_lock(connection)  # the one write lock holds every name

    def insert(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], ignore: Sequence[str] = ()
    ) -> None:
        insert_rows(connection, table, rows, ignore)

    def insert_ignoring(self, table: Table, keys: Sequence[str]) -> Any:
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))

    def field_equals(self, column: Any, field: str, value: str) -> ColumnElement[bool]:
        if '"' in field or "\\" in field:
            raise QueryError(f"bad --where field {field!r}: no quotes or backslashes")
        path = f'$."{field}"'
        kind = func.json_type(column, path)
        extracted = func.json_extract(column, path)
        candidates = [and_(kind == "text", extracted == value)]
        if _NUMBER.match(value):
            number: float | int = float(value)
            if re.fullmatch(r"-?\d+", value) and abs(int(value)) < 2**63:
                number = int(value)
            candidates.append(and_(kind.in_(("integer", "real")), extracted == number))
        if value in ("true", "false"):
            candidates.append(kind == value)
        if value == "null":
            candidates.append(func.coalesce(kind, "null") == "null")
        return or_(*candidates)

    def on_open(self, engine: Engine, patience: float) -> None:
        busy = round(1000 * min(10.0, max(0.05, patience / 4)))
        event.listen(engine, "connect", lambda connection, _record: _sqlite_pragmas(connection, busy))

    def read_only(self, engine: Engine) -> Engine:
        event.listen(engine, "connect", lambda connection, _record: no_writes(connection))
        engine.dispose()  # a connection opened before had no such limits
        return engine


class PostgreSQL(Backend):
    """PostgreSQL: row locks, advisory locks, ON CONFLICT, JSONB."""

    name = "postgresql"

    def lock(self, connection: Connection, name: str) -> None:
        connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(name.encode())})

    def skip_locked(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True)

    def for_update(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update()

    def insert(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], ignore: Sequence[str] = ()
    ) -> None:
        if not rows:
            return
        connection.execute(self.insert_ignoring(table, ignore) if ignore else insert(table), list(rows))

    def insert_ignoring(self, table: Table, keys: Sequence[str]) -> Any:
        return _postgresql().insert(table).on_conflict_do_nothing(index_elements=list(keys))

    def json_type(self) -> TypeEngine[Any]:
        jsonb: TypeEngine[Any] = _postgresql().JSONB()
        return jsonb

    def field_equals(self, column: Any, field: str, value: str) -> ColumnElement[bool]:
        jsonb = _postgresql().JSONB
        element = column[field]
        candidates = [element == cast(literal(json.dumps(value), String), jsonb)]
        if _NUMBER.match(value) or value in ("true", "false"):
            candidates.append(element == cast(literal(value, String), jsonb))
        if value == "null":
            candidates.append(element.is_(None))
            candidates.append(element == cast(literal("null", String), jsonb))
        return or_(*candidates)

    def read_only(self, engine: Engine) -> Engine:
        return engine.execution_options(postgresql_readonly=True)

    def one_statement(self, engine: Engine) -> bool:
        return True


_BACKENDS: dict[str, Backend] = {"sqlite": SQLite(), "postgresql": PostgreSQL()}


def backend_of(bind: Engine | Connection | Any) -> Backend:
    """The backend of an engine or connection (anything with SQLAlchemy's `.dialect`)."""
    return named(bind.dialect.name)


def named(kind: str) -> Backend:
    """The backend of a database kind, as SQLAlchemy names it (`sqlite`, `postgresql`)."""
    backend = _BACKENDS.get(kind)
    if backend is None:
        raise DatabaseError(f"unsupported database {kind!r}: Harvester stores in SQLite or PostgreSQL")
    return backend


class Json(TypeDecorator[Any]):
    """A JSON column: JSONB on PostgreSQL, JSON text on SQLite (its backend's `json_type`)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> TypeEngine[Any]:
        impl: TypeEngine[Any] = dialect.type_descriptor(named(dialect.name).json_type())
        return impl


def no_writes(connection: Any) -> None:
    """A SQLite DBAPI connection that cannot write: no attached database, `query_only`."""
    import sqlite3

    connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # ATTACH and VACUUM INTO would create files
    connection.execute("PRAGMA query_only=1")


def _sqlite_pragmas(dbapi_connection: Any, busy: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(busy)}")  # first: another process may be creating the file
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-1024")  # 1 MiB per connection, not 2: a crawl appends, and RSS counts
    cursor.close()


def _postgresql() -> Any:
    from sqlalchemy.dialects import postgresql  # loaded only for PostgreSQL

    return postgresql
