"""Opening the harvest database for reading only: the database itself refuses every write.

`harvester query` (and `harvester.query.open_database`) read through this, so a
statement that would change anything fails inside the database, whatever its
text looks like:

- SQLite: the file is opened `mode=ro` (a read-only file, or one in a read-only
  folder, can be read), with `PRAGMA query_only` and no database may be
  attached (`ATTACH` and `VACUUM INTO` would create files). A WAL database in a
  folder where its `-shm` file cannot be created is opened `immutable=1`, which
  SQLite allows only when no other process can be writing it; one whose `-wal`
  file still holds changes is refused in one line rather than read stale.
- PostgreSQL: every transaction is `READ ONLY`, and each statement goes through
  the extended protocol, one statement at a time (so `SET TRANSACTION READ
  WRITE; DELETE ...` cannot slip a write in).

`refusal(exc)` tells a refused write apart from other errors, for one clear line;
`is_read_only(engine)` whether an engine came from here.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from harvester.exceptions import DatabaseError
from harvester.storage.backend import backend_of, no_writes
from harvester.storage.database import open_engine

WRITE_REFUSED = "refused: this statement writes, and query reads only; add --write to let it change the database"
_SQLITE_REFUSALS = ("attempt to write a readonly database", "too many attached databases")
_PG_READ_ONLY = "25006"  # read_only_sql_transaction
_MARK = "harvester_read_only"  # an execution option: this engine came from open_read_only


def open_read_only(url: str, busy_ms: int = 10_000) -> Engine:
    """An engine on the existing database at `url` that cannot write; one clear error otherwise."""
    path = _sqlite_file(url)
    if path is not None:
        engine = _sqlite_read_only(path, busy_ms)
    else:
        # PostgreSQL, or SQLite by a URL of another form (a `file:` URI, options): its backend
        # makes every connection read-only
        engine = open_engine(url, must_exist=True)
        engine = backend_of(engine).read_only(engine)
    return engine.execution_options(**{_MARK: True})


def is_read_only(engine: Engine) -> bool:
    """Whether `engine` came from `open_read_only`."""
    return bool(engine.get_execution_options().get(_MARK))


def _sqlite_read_only(path: Path, busy_ms: int) -> Engine:
    if not path.exists():
        raise DatabaseError(f"no harvest database at {path}; run a crawl first")
    uri = _sqlite_uri(path)

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        no_writes(connection)
        connection.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        return connection

    engine = create_engine("sqlite+pysqlite://", creator=connect)
    try:
        with engine.connect() as connection:
            connection.execute(text("select count(*) from sqlite_master"))
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise DatabaseError(f"cannot open database {path}: {reason}") from None
    return engine


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or path in (None, "", ":memory:") or parsed.query:
        return None
    return Path(path).resolve()


def _sqlite_uri(path: Path) -> str:
    """`file:` URI opening `path` read-only; `immutable=1` where SQLite could not share a WAL."""
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    shm, wal = Path(f"{path}-shm"), Path(f"{path}-wal")
    if shm.exists() or os.access(path.parent, os.W_OK) or not _is_wal(path):
        return uri
    if wal.exists() and wal.stat().st_size > 0:
        raise DatabaseError(
            f"cannot open database {path} read-only: its {wal.name} holds changes not yet in the database "
            f"and {shm.name} cannot be created in {path.parent}; open it once where the folder is writable"
        )
    return uri + "&immutable=1"  # nobody can be writing: the writer would need the -shm file


def _is_wal(path: Path) -> bool:
    """Whether the SQLite file at `path` is in WAL mode (file format numbers 2 at offsets 18 and 19)."""
    try:
        with open(path, "rb") as file:
            header = file.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18:20] == b"\x02\x02"


def refusal(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a write on a read-only connection."""
    orig: Any = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == _PG_READ_ONLY:
        return True
    message = str(orig)
    return isinstance(orig, sqlite3.Error) and any(text in message for text in _SQLITE_REFUSALS)
