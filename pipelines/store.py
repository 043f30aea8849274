"""Pipeline: items -> the `items` table.

Items are not written one by one: each goes into the journal with the page it
came from, and is written in the same transaction as that page and the
requests it led to (`harvester.storage.journal`), in batches, whole or not
at all. A resumed run therefore never stores an item twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from harvester.items import as_dict
from harvester.run import Run
from harvester.storage.journal import now
from harvester.storage.tables import items


class StorePipeline:
    def open(self, run: Run) -> None:
        run.journal.item_writer = self.write

    def process_item(self, item: Any, run: Run) -> None:
        run.journal.item(
            {"run_id": run.id, "spider": run.spider_name, "url": run.item_url(),
             "data": as_dict(item), "created_at": now()}
        )

    def write(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Write a batch of item rows inside the journal's transaction."""
        connection.execute(insert(items), rows)
