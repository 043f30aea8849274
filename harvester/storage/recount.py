"""What a resumed run reads back from its rows: its counts, and its stored items.

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
from sqlalchemy.engine import Engine

from harvester.storage.tables import errors, items, pages

BATCH = 1000


def run_counts(engine: Engine, run_id: int) -> dict[str, int]:
    """The run's `pages`, `items` and `errors` rows, counted."""
    with engine.connect() as connection:
        return {
            name: int(connection.execute(
                select(func.count()).select_from(table).where(table.c.run_id == run_id)).scalar() or 0)
            for name, table in (("pages", pages), ("items", items), ("errors", errors))
        }


def run_items(engine: Engine, run_id: int) -> Iterator[dict[str, Any]]:
    """The data of every item stored for the run, oldest first, read in batches (bounded memory)."""
    last = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(items.c.id, items.c.data).where(items.c.run_id == run_id, items.c.id > last)
                .order_by(items.c.id).limit(BATCH)
            ).all()
        if not rows:
            return
        for row in rows:
            yield row.data
        last = rows[-1].id
