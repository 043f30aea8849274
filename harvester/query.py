"""Reading the harvest database: raw SQL, or items by spider, run, time and field.

The same filters work on SQLite and PostgreSQL. `items_of_run` is the small
Python API for notebooks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from harvester.exceptions import QueryError
from harvester.storage.tables import items, runs

ITEM_COLUMNS = ("id", "run_id", "spider", "url", "created_at", "data")


def run_sql(engine: Engine, sql: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Column names and rows of one SQL statement."""
    connection = engine.connect()
    try:
        result = connection.execute(text(sql))
    except SQLAlchemyError as exc:
        connection.close()
        raise QueryError(f"bad SQL: {_reason(exc)}") from None
    if not result.returns_rows:
        connection.commit()
        connection.close()
        return [], iter(())
    columns = list(result.keys())

    def rows() -> Iterator[dict[str, Any]]:
        try:
            for row in result:
                yield dict(zip(columns, row, strict=True))
        finally:
            connection.close()

    return columns, rows()


def find_items(
    engine: Engine,
    spider: str | None = None,
    run: int | None = None,
    since: str | None = None,
    where: Sequence[str] = (),
) -> Iterator[dict[str, Any]]:
    """Item rows (with `data` as a dict) matching every filter given, oldest first."""
    query = select(*(items.c[name] for name in ITEM_COLUMNS)).order_by(items.c.id)
    if spider:
        query = query.where(items.c.spider == spider)
    if run is not None:
        query = query.where(items.c.run_id == run)
    if since:
        query = query.where(items.c.created_at >= parse_time(since))
    for condition in where:
        field, sep, value = condition.partition("=")
        if not sep or not field:
            raise QueryError(f"bad --where {condition!r}: expected field=value")
        query = query.where(items.c.data[field.strip()].as_string() == value)
    connection = engine.connect()
    try:
        result = connection.execute(query).mappings()
    except SQLAlchemyError as exc:  # such as a database without the harvest tables
        connection.close()
        raise QueryError(f"cannot read items: {_reason(exc)}") from None

    def rows() -> Iterator[dict[str, Any]]:
        try:
            for row in result:
                yield dict(row)
        finally:
            connection.close()

    return rows()


def _reason(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def items_of_run(engine: Engine, run: int | None = None, spider: str | None = None) -> list[dict[str, Any]]:
    """The items of a run (default: the newest run, of `spider` if given) as plain dicts."""
    if run is None:
        query = select(runs.c.id).order_by(runs.c.id.desc()).limit(1)
        if spider:
            query = query.where(runs.c.spider == spider)
        with engine.connect() as connection:
            run = connection.execute(query).scalar()
        if run is None:
            return []
    return [row["data"] for row in find_items(engine, run=run)]


def parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"bad time {value!r}: use ISO format, such as 2026-11-21 or 2026-11-21T08:00") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as the user wrote it
    return moment.astimezone(dt.UTC)
