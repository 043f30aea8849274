"""Item rows: made from a request's items, and written in the journal's transaction (keyed updated in place).

A row with a `key` (see `harvester.items.key_of`) is one row per spider and
key across runs. Storing it again keeps the row's `id`, `first_seen` and
`created_at`; sets `run_id` (the run that saw it last), `url`, `last_seen`;
and, when the data differ, replaces `data`, sets `changed_run_id` to this run
and appends the replaced version to `item_history`. A row without a key is
appended, and counts as changed in its own run.

Concurrent writers of one key: new keys are inserted with ON CONFLICT DO
NOTHING, so a writer that loses the race to insert finds the winner's row and
updates it; on PostgreSQL existing rows are read FOR UPDATE, and on SQLite the
transaction takes the database's write lock before it reads, so nobody writes
between its read and its writes (`harvester.storage.backend`).

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

from harvester.items import as_dict, key_fields, key_of
from harvester.outcome import Outcome
from harvester.storage.backend import backend_of
from harvester.storage.tables import item_history, items

CHUNK = 500  # keys per IN (...) list
_PLACE = ["run_id", "source", "seq"]  # a keyless item's place in its run: stored once
Key = tuple[str, str]  # (spider, key)


@dataclass
class _Stored:
    id: int
    data: Any
    changed_run_id: int
    changed: bool = False


class ItemRows:
    """How the items the store pipeline keeps with a request's outcome become `items` rows.

    Each row holds the item's JSON-ready data, its key if it has one, the page
    it came from, and, keyless, its place in the run (the request's frontier
    row and its number among that request's items).
    """

    def __init__(self, run_id: int, spider: Any) -> None:
        """`spider`: the run's spider (its name, its `item_key`)."""
        self.run_id = run_id
        self.spider = spider
        self.name = spider.name

    def row(self, outcome: Outcome, item: Any) -> dict[str, Any]:
        """The row of one item of `outcome`, its data as it is now; a `ValueError` when a key field is empty."""
        data = as_dict(item)
        fields = key_fields(item, self.spider)
        key = key_of(data, fields) if fields else None
        row = {"run_id": self.run_id, "spider": self.name, "url": outcome.url, "data": data, "key": key}
        if outcome.source is not None:
            row["source"], row["seq"] = outcome.source, outcome.seq
            outcome.seq += 1
        return row


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
    backend = backend_of(connection)
    backend.write_lock(connection)  # SQLite: nobody writes between our read and our writes
    stored = _read(connection, versions)
    new = [key for key in versions if key not in stored]
    if new:
        inserted = _insert_or_skip(connection, [versions[key][0] for key in new])
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
                history.append(
                    {
                        "item_id": row.id,
                        "run_id": row.changed_run_id,
                        "data": row.data,
                        "changed_at": version["created_at"],
                    }
                )
                row.data, row.changed_run_id, row.changed = version["data"], version["run_id"], True
        last = rows[-1]
        touched.append(
            {
                "b_id": row.id,
                "b_run_id": last["run_id"],
                "b_url": last["url"],
                "b_last_seen": last["created_at"],
                "b_data": row.data,
                "b_changed_run_id": row.changed_run_id,
                "changed": row.changed,
            }
        )
    if history:
        connection.execute(insert(item_history), history)
    seen = (
        update(items)
        .where(items.c.id == bindparam("b_id"))
        .values(run_id=bindparam("b_run_id"), url=bindparam("b_url"), last_seen=bindparam("b_last_seen"))
    )
    for changed, statement in (
        (False, seen),
        (True, seen.values(data=bindparam("b_data"), changed_run_id=bindparam("b_changed_run_id"))),
    ):
        params = [row for row in touched if row["changed"] is changed]
        if params:
            connection.execute(statement, params)


def _read(connection: Connection, keys: Iterable[Key]) -> dict[Key, _Stored]:
    """The stored rows of these (spider, key) pairs, locked for this transaction on PostgreSQL."""
    backend = backend_of(connection)
    by_spider: dict[str, list[str]] = {}
    for spider, key in keys:
        by_spider.setdefault(spider, []).append(key)
    found: dict[Key, _Stored] = {}
    for spider, names in by_spider.items():
        names.sort()  # rows locked in one order by every writer: fewer deadlocks on PostgreSQL
        for start in range(0, len(names), CHUNK):
            query = select(items.c.id, items.c.key, items.c.data, items.c.changed_run_id).where(
                items.c.spider == spider, items.c.key.in_(names[start : start + CHUNK])
            )
            for row in connection.execute(backend.for_update(query)):
                found[(spider, row.key)] = _Stored(row.id, row.data, row.changed_run_id)
    return found


def _insert_or_skip(connection: Connection, rows: list[dict[str, Any]]) -> dict[Key, _Stored]:
    """Insert first versions of new keys, skipping any another writer stored; those inserted."""
    values = [_full(row) for row in rows]
    by_key = {(row["spider"], row["key"]): row for row in values}
    inserted: dict[Key, _Stored] = {}
    for row in backend_of(connection).insert_new(connection, items, values, ("spider", "key"), ("id", "spider", "key")):
        first = by_key[(row.spider, row.key)]
        inserted[(row.spider, row.key)] = _Stored(row.id, first["data"], first["run_id"])
    return inserted


def _full(row: dict[str, Any]) -> dict[str, Any]:
    """An item row with its first and last sighting and its change in this run."""
    keyed = row.get("key") is not None
    return {
        **row,
        "key": row.get("key"),
        "first_seen": row["created_at"],
        "last_seen": row["created_at"],
        "changed_run_id": row["run_id"],
        "source": None if keyed else row.get("source"),
        "seq": None if keyed else row.get("seq"),
    }


def _append(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert rows; a keyless row whose place in the run is stored already is skipped (a resume)."""
    backend_of(connection).insert(connection, items, [_full(row) for row in rows], ignore=_PLACE)
