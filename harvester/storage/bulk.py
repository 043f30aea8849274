"""Many rows in one statement on SQLite: a batch bound as one JSON array.

`INSERT ... SELECT ... FROM json_each(?)` hands SQLite the whole batch at
once. An executemany binds and steps row by row and takes the GIL back after
every row, which stalls the event loop's thread each time; here the driver
releases it once for the batch, and the Python side is one `orjson` call (a
tenth of `json`'s time, which the event loop's thread would spend waiting).
Values are stored the way SQLAlchemy's own SQLite types store them
(datetimes as text to the microsecond, JSON columns as JSON text), so either
path reads back the same. Needs SQLite 3.38 (the `->` operators).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Table
from sqlalchemy.engine import Connection

_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def insert_rows(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], ignore: Sequence[str] = ()
) -> None:
    """Insert `rows` (dicts of column values; a missing one is NULL) into `table`.

    With `ignore`, a row conflicting with a stored one on those columns is skipped.
    """
    if not rows:
        return
    columns = tuple(dict.fromkeys(name for row in rows for name in row))
    batch = [[row.get(name) for name in columns] for row in rows]
    times = _datetimes(table, columns)
    if times:
        last = text = None
        for values in batch:
            for position in times:
                moment = values[position]
                if moment is not None:
                    if moment is not last:  # a batch's times are often one moment: formatted once
                        last, text = moment, sqlite_time(moment)
                    values[position] = text
    connection.exec_driver_sql(_statement(table, columns, tuple(ignore)), (_encode(batch),))


def _encode(batch: list[list[Any]]) -> str:
    try:
        return orjson.dumps(batch).decode()
    except (orjson.JSONEncodeError, TypeError):  # an integer past 64 bits, say: json takes any
        return _ENCODER.encode(batch)


def sqlite_time(moment: dt.datetime) -> str:
    """A datetime as SQLAlchemy's SQLite DateTime stores it: wall time to the microsecond, no zone."""
    return moment.isoformat(" ", "microseconds")[:26]


@cache
def _datetimes(table: Table, columns: tuple[str, ...]) -> list[int]:
    return [i for i, name in enumerate(columns) if isinstance(table.c[name].type, DateTime)]


@cache
def _statement(table: Table, columns: tuple[str, ...], ignore: tuple[str, ...]) -> str:
    values = ", ".join(
        f"value->{i}" if isinstance(table.c[name].type, JSON) else f"value->>{i}"  # JSON text, or the SQL value
        for i, name in enumerate(columns)
    )
    names = ", ".join(f'"{name}"' for name in columns)
    conflict = f" ON CONFLICT ({', '.join(ignore)}) DO NOTHING" if ignore else ""
    return f'INSERT INTO "{table.name}" ({names}) SELECT {values} FROM json_each(?) WHERE true{conflict}'
