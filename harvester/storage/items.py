"""Writing item rows, inside the journal's transaction: keyless appended, keyed updated in place.

A row with a `key` (see `harvester.items.key_of`) is one row per spider and
key across runs. Storing it again keeps the row's `id`, `first_seen` and
`created_at`; sets `run_id` (the run that saw it last), `url`, `last_seen`;
and, when the data differ, replaces `data`, sets `changed_run_id` to this run
and appends the replaced version to `item_history`. A row without a key is
appended, and counts as changed in its own run.

Concurrent writers of one key: on PostgreSQL existing rows are read FOR
UPDATE and new keys inserted with ON CONFLICT DO NOTHING, so a writer that
loses the race to insert finds the winner's row and updates it. On SQLite
the transaction takes the database's write lock before it reads, so nobody
writes between its read and its writes.

Appending is the hot path (a crawl may store millions of rows): on SQLite a
batch is one statement (`harvester.storage.bulk`), at half the cost of an
executemany and without taking the GIL back row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from harvester.storage.bulk import insert_rows
from harvester.storage.tables import item_history, items, runs

CHUNK = 500  # keys per IN (...) list
_PLACE = ["run_id", "source", "seq"]  # a keyless item's place in its run: stored once
Key = tuple[str, str]  # (spider, key)


@dataclass
class _Stored:
    id: int
    data: Any
    changed_run_id: int
    changed: bool = False


def write_items(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Store a batch of item rows (run_id, spider, url, data, key) in `connection`'s transaction.

    A row without `created_at` is stamped with the batch's time.
    """
    moment = dt.datetime.now(dt.UTC)
    for row in rows:
        if "created_at" not in row:
            row["created_at"] = moment
    keyless = [row for row in rows if row.get("key") is None]
    if keyless:
        _append(connection, keyless)
    versions: dict[Key, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("key") is not None:
            versions.setdefault((row["spider"], row["key"]), []).append(row)
    if versions:
        _write_keyed(connection, versions)


def _write_keyed(connection: Connection, versions: dict[Key, list[dict[str, Any]]]) -> None:
    if connection.dialect.name == "sqlite":  # the write lock first: nobody writes between our read and writes
        connection.execute(update(runs).where(runs.c.id == -1).values(status="running"))
    stored = _read(connection, versions)
    new = [key for key in versions if key not in stored]
    if new:
        if connection.dialect.name == "postgresql":
            inserted = _insert_or_skip(connection, [versions[key][0] for key in new])
        else:
            _append(connection, [versions[key][0] for key in new])
            again = [key for key in new if len(versions[key]) > 1]  # their later versions need the id
            inserted = {key: _Stored(0, versions[key][0]["data"], versions[key][0]["run_id"]) for key in new}
            inserted.update(_read(connection, again, lock=False))
        for key in new:
            if key in inserted:  # its first version is stored: the rest of the batch updates it
                stored[key] = inserted[key]
                versions[key] = versions[key][1:]
        lost = [key for key in new if key not in inserted]  # another writer stored it meanwhile
        if lost:
            stored.update(_read(connection, lost))
    history: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    for key, rows in versions.items():
        if not rows:
            continue
        row = stored[key]
        for version in rows:
            if version["data"] != row.data:
                history.append({"item_id": row.id, "run_id": row.changed_run_id, "data": row.data,
                                "changed_at": version["created_at"]})
                row.data, row.changed_run_id, row.changed = version["data"], version["run_id"], True
        last = rows[-1]
        touched.append({"b_id": row.id, "b_run_id": last["run_id"], "b_url": last["url"],
                        "b_last_seen": last["created_at"], "b_data": row.data,
                        "b_changed_run_id": row.changed_run_id, "changed": row.changed})
    if history:
        connection.execute(insert(item_history), history)
    seen = update(items).where(items.c.id == bindparam("b_id")).values(
        run_id=bindparam("b_run_id"), url=bindparam("b_url"), last_seen=bindparam("b_last_seen"))
    for changed, statement in ((False, seen),
                               (True, seen.values(data=bindparam("b_data"),
                                                  changed_run_id=bindparam("b_changed_run_id")))):
        params = [row for row in touched if row["changed"] is changed]
        if params:
            connection.execute(statement, params)


def _read(connection: Connection, keys: Iterable[Key], lock: bool = True) -> dict[Key, _Stored]:
    """The stored rows of these (spider, key) pairs, locked for this transaction on PostgreSQL."""
    by_spider: dict[str, list[str]] = {}
    for spider, key in keys:
        by_spider.setdefault(spider, []).append(key)
    found: dict[Key, _Stored] = {}
    for spider, names in by_spider.items():
        names.sort()  # rows locked in one order by every writer: fewer deadlocks on PostgreSQL
        for start in range(0, len(names), CHUNK):
            query = select(items.c.id, items.c.key, items.c.data, items.c.changed_run_id).where(
                items.c.spider == spider, items.c.key.in_(names[start:start + CHUNK]))
            if lock and connection.dialect.name == "postgresql":
                query = query.with_for_update()
            for row in connection.execute(query):
                found[(spider, row.key)] = _Stored(row.id, row.data, row.changed_run_id)
    return found


def _insert_or_skip(connection: Connection, rows: list[dict[str, Any]]) -> dict[Key, _Stored]:
    """PostgreSQL: insert first versions of new keys, skipping any another writer stored; those inserted."""
    statement = (
        _postgresql().insert(items)
        .on_conflict_do_nothing(index_elements=["spider", "key"])
        .returning(items.c.id, items.c.spider, items.c.key)
    )
    values = [_full(row) for row in rows]
    by_key = {(row["spider"], row["key"]): row for row in values}
    inserted: dict[Key, _Stored] = {}
    for row in connection.execute(statement, values):
        first = by_key[(row.spider, row.key)]
        inserted[(row.spider, row.key)] = _Stored(row.id, first["data"], first["run_id"])
    return inserted


def _full(row: dict[str, Any]) -> dict[str, Any]:
    """An item row with its first and last sighting and its change in this run."""
    keyed = row.get("key") is not None
    return {**row, "key": row.get("key"), "first_seen": row["created_at"], "last_seen": row["created_at"],
            "changed_run_id": row["run_id"], "source": None if keyed else row.get("source"),
            "seq": None if keyed else row.get("seq")}


def _append(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert rows; a keyless row whose place in the run is stored already is skipped (a resume)."""
    full = [_full(row) for row in rows]
    if connection.dialect.name == "sqlite":
        insert_rows(connection, items, full, ignore=_PLACE)
    elif connection.dialect.name == "postgresql":
        connection.execute(_postgresql().insert(items).on_conflict_do_nothing(index_elements=_PLACE), full)
    else:
        connection.execute(insert(items), full)


def _postgresql() -> Any:
    from sqlalchemy.dialects import postgresql  # loaded only for PostgreSQL

    return postgresql
