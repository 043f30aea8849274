"""Pipeline: items -> the `items` table, keyed items updated in place.

Items are not written one by one: each goes into the journal with the page it
came from, and is written in the same transaction as that page and the
requests it led to (`harvester.storage.journal`), in batches, whole or not
at all; a batch that meets a transient database error is retried whole. A
resumed run therefore never stores an item twice.

An item with a natural key (its dataclass's `key` class variable, or the
spider's `item_key`) updates the row stored before under that key, keeping
`first_seen` and the replaced versions in `item_history`
(`harvester.storage.items`); an item without one is appended. An item that
lacks a value for a key field is not stored: that is a `pipeline` error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from harvester.items import as_dict, key_fields, key_of
from harvester.run import Run
from harvester.storage.items import write_items


class StorePipeline:
    def open(self, run: Run) -> None:
        run.journal.item_writer = self.write

    def process_item(self, item: Any, run: Run) -> None:
        data = as_dict(item)
        fields = key_fields(item, run.spider)
        run.journal.item(  # stamped with its batch's time when written (created_at)
            {"run_id": run.id, "spider": run.spider_name, "url": run.item_url(), "data": data,
             "key": key_of(data, fields) if fields else None}
        )

    def write(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Write a batch of item rows inside the journal's transaction."""
        write_items(connection, rows)
