"""What a run reads back from its rows: its counts and figures, and its stored items.

The figures kept in `runs.stats` are written with each journal batch, so after
a kill they can lag the rows; a resume counts its pages, items and errors from
the rows instead, and the run's limits go on from there. `-o FILE` on a resumed
run writes the items stored before the resume again, so the file holds the
whole run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from harvester.storage.tables import errors, items, pages

BATCH = 1000


def run_counts(engine: Engine, run_id: int) -> dict[str, int]:
    """The run's `pages`, `items` and `errors` rows, counted."""
    with engine.connect() as connection:
        return {
            name: int(
                connection.execute(select(func.count()).select_from(table).where(table.c.run_id == run_id)).scalar()
                or 0
            )
            for name, table in (("pages", pages), ("items", items), ("errors", errors))
        }


def run_items(engine: Engine, run_id: int) -> Iterator[dict[str, Any]]:
    """The data of every item stored for the run, oldest first, read in batches (bounded memory)."""
    last = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(items.c.id, items.c.data)
                .where(items.c.run_id == run_id, items.c.id > last)
                .order_by(items.c.id)
                .limit(BATCH)
            ).all()
        if not rows:
            return
        for row in rows:
            yield row.data
        last = rows[-1].id


def recount(engine: Engine, run_id: int) -> dict[str, Any]:
    """A run's figures counted from its rows: pages, items, errors, bytes, statuses, errors by kind."""
    with engine.connect() as connection:
        return count_rows(connection, run_id)


def count_rows(connection: Connection, run_id: int) -> dict[str, Any]:
    """`recount` in an open connection."""

    def count(table: Any) -> int:
        query = select(func.count()).select_from(table).where(table.c.run_id == run_id)
        return int(connection.execute(query).scalar() or 0)

    statuses = connection.execute(
        select(pages.c.status, func.count()).where(pages.c.run_id == run_id).group_by(pages.c.status)
    ).all()
    kinds = connection.execute(
        select(errors.c.kind, func.count()).where(errors.c.run_id == run_id).group_by(errors.c.kind)
    ).all()
    size = connection.execute(select(func.sum(pages.c.size)).where(pages.c.run_id == run_id)).scalar() or 0
    return {
        "pages": count(pages),
        "items": count(items),
        "errors": count(errors),
        "bytes": int(size),
        "statuses": {str(status): n for status, n in sorted(statuses)},
        "errors_by_kind": dict(sorted(kinds)),
    }
