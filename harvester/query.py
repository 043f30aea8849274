"""Reading the harvest database: raw SQL, or items by spider, run, time, field and change.

The same filters give the same rows on SQLite and PostgreSQL:

- `--where FIELD=VALUE` compares one top-level field of the item's data. It
  matches a JSON string equal to VALUE; when VALUE is a number (`12.5`, `-3`,
  `1e3`) also a JSON number equal to it (so `price=12.5` matches 12.5, 12.50
  and "12.5", but not "12.50"); when VALUE is `true` or `false` also that
  boolean; when VALUE is `null` also a null or missing field.
- `--since TIME` keeps items stored (or, if keyed, seen again) at or after TIME.
- `--changed` keeps items that are new or whose data changed in the newest run
  of their spider (of `--spider`; with `--run N`, in run N).
- `--run N` keeps items whose last run is N (a keyed item seen again later has moved on).

The small Python API for notebooks:

    from harvester.query import open_database, items_of_run, changed_items, item_history
    db = open_database()                      # ./harvester.toml, or open_database("sqlite:///x.db");
                                              # read-only (harvester.read_only) unless write=True
    items_of_run(db, spider="books")          # data of the newest run's items, as dicts
    changed_items(db, spider="books")         # item rows new or changed in it, with "change"
    item_history(db, item_id)                 # earlier versions of a keyed item, oldest first
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from harvester.exceptions import QueryError
from harvester.read_only import WRITE_REFUSED, is_read_only, open_read_only, refusal
from harvester.storage.backend import backend_of
from harvester.storage.tables import item_history as history_table
from harvester.storage.tables import items, runs

ITEM_COLUMNS = ("id", "run_id", "spider", "url", "created_at", "data")


def open_database(url: str | None = None, config: str | Path | None = None, write: bool = False) -> Engine:
    """The harvest database at `url`, or the one `config` (default ./harvester.toml) names.

    Read-only unless `write` (`harvester.read_only`): a statement that would change
    the database raises `QueryError`, and a read-only file or folder can be read.
    """
    from harvester import config as settings
    from harvester.storage.database import open_engine

    if url is None:
        url = settings.load(config).database_url()
    return open_engine(url, must_exist=True) if write else open_read_only(url)


def run_sql(engine: Engine, sql: str, limit: int | None = None) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Column names and rows (the first `limit`, if given) of one SQL statement.

    On a read-only engine a statement that writes raises `QueryError` saying so.
    """
    connection = engine.connect()
    try:
        if _read_only_postgresql(engine):
            result: Any = _one_postgresql_statement(connection, sql)
            columns = [column.name for column in result.description] if result.description else None
        else:
            result = connection.execute(text(sql))
            columns = list(result.keys()) if result.returns_rows else None
    except Exception as exc:
        connection.close()
        if refusal(exc) and is_read_only(engine):
            raise QueryError(WRITE_REFUSED) from None
        if isinstance(exc, SQLAlchemyError) or type(exc).__module__.startswith("psycopg"):
            raise QueryError(f"bad SQL: {_reason(exc)}") from None
        raise
    if columns is None:
        result.close()
        connection.commit()
        connection.close()
        return [], iter(())

    def rows() -> Iterator[dict[str, Any]]:
        try:
            for count, row in enumerate(result):
                if limit is not None and count >= limit:
                    break
                yield dict(zip(columns, row, strict=True))
        finally:
            result.close()
            connection.close()

    return columns, rows()


def _read_only_postgresql(engine: Engine) -> bool:
    return is_read_only(engine) and backend_of(engine).one_statement(engine)


def _one_postgresql_statement(connection: Any, sql: str) -> Any:
    """The psycopg cursor of `sql` run as a prepared statement: the server takes one statement only,
    in the connection's READ ONLY transaction."""
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(sql, prepare=True)
    return cursor


def find_items(
    engine: Engine,
    spider: str | None = None,
    run: int | None = None,
    since: str | None = None,
    where: Sequence[str] = (),
    changed: bool = False,
    columns: Sequence[str] = ITEM_COLUMNS,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Item rows (with `data` as a dict) matching every filter given, oldest first (the first `limit`)."""
    query = select(*(items.c[name] for name in columns if name != "change")).order_by(items.c.id)
    if "change" in columns:
        query = _with_change(query)
    if spider:
        query = query.where(items.c.spider == spider)
    if changed:
        query = query.where(items.c.changed_run_id == (run if run is not None else _newest_run(spider)))
    elif run is not None:
        query = query.where(items.c.run_id == run)
    if since:
        query = query.where(items.c.last_seen >= parse_time(since))
    for condition in where:
        field, sep, value = condition.partition("=")
        if not sep or not field.strip():
            raise QueryError(f"bad --where {condition!r}: expected field=value")
        query = query.where(field_equals(engine, field.strip(), value))
    if limit is not None:
        query = query.limit(limit)
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


def _newest_run(spider: str | None) -> Any:
    """The id of the newest run of `spider`, or, without one, of each item's own spider."""
    newest = select(func.max(runs.c.id))
    if spider:
        return newest.where(runs.c.spider == spider).scalar_subquery()
    return newest.where(runs.c.spider == items.c.spider).correlate(items).scalar_subquery()


def _with_change(query: Any) -> Any:
    return query.add_columns(change_of_item().label("change"))


def change_of_item() -> ColumnElement[str]:
    """SQL: "new" for an item first stored in the run its data last changed in, else "changed"."""
    started = select(runs.c.started_at).where(runs.c.id == items.c.changed_run_id).correlate(items)
    return case((items.c.first_seen >= started.scalar_subquery(), "new"), else_="changed")


def field_equals(engine: Engine, field: str, value: str) -> ColumnElement[bool]:
    """SQL true where the item's data has `field` equal to `value`, as the module docstring says."""
    return backend_of(engine).field_equals(items.c.data, field, value)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def newest_run(engine: Engine, spider: str | None = None) -> int | None:
    """The id of the newest run (of `spider`, if given)."""
    query = select(func.max(runs.c.id))
    if spider:
        query = query.where(runs.c.spider == spider)
    with engine.connect() as connection:
        return connection.execute(query).scalar()


def items_of_run(engine: Engine, run: int | None = None, spider: str | None = None) -> list[dict[str, Any]]:
    """The data of the items of a run (default: the newest run, of `spider` if given) as plain dicts."""
    if run is None:
        run = newest_run(engine, spider)
        if run is None:
            return []
    return [row["data"] for row in find_items(engine, run=run)]


CHANGE_COLUMNS = (*ITEM_COLUMNS, "key", "first_seen", "last_seen", "change")


def changed_items(engine: Engine, spider: str | None = None, run: int | None = None) -> list[dict[str, Any]]:
    """Item rows new or changed in a run (default: the newest, of `spider` if given).

    Each has the item columns plus `key`, `first_seen`, `last_seen` and `change` ("new" or "changed").
    """
    return list(find_items(engine, spider=spider, run=run, changed=True, columns=CHANGE_COLUMNS))


def item_history(engine: Engine, item_id: int) -> list[dict[str, Any]]:
    """Earlier versions of a keyed item, oldest first: `run_id` that stored it, `data`, `changed_at`."""
    query = (
        select(history_table.c.run_id, history_table.c.data, history_table.c.changed_at)
        .where(history_table.c.item_id == item_id)
        .order_by(history_table.c.id)
    )
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"bad time {value!r}: use ISO format, such as 2026-11-21 or 2026-11-21T08:00") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as the user wrote it
    return moment.astimezone(dt.UTC)
