"""Pipeline: items -> the `items` table, keyed items updated in place.

Items are not written one by one: an item that comes out of the pipelines
goes, as their result, into the outcome of the request it came from
(`harvester.outcome`), and is written in the same transaction as that page
and the requests it led to (`harvester.storage.journal`), in batches, whole
or not at all; a batch that meets a transient database error is retried
whole. A resumed run therefore never stores an item twice. This pipeline
says the run stores its items (`stores_items`), and refuses an item it could
not store.

An item with a natural key (its dataclass's `key` class variable, or the
spider's `item_key`) updates the row stored before under that key, keeping
`first_seen` and the replaced versions in `item_history`
(`harvester.storage.items`); an item without one is appended. An item that
lacks a value for a key field is not stored: that is a `pipeline` error.
"""

from __future__ import annotations

from typing import Any

from harvester import RunContext
from harvester.items import as_dict, key_fields, key_of


class StorePipeline:
    """Stores the items that come out of the pipelines in the `items` table."""

    stores_items = True  # the run's journal writes each item with its request's outcome

    def process_item(self, item: Any, run: RunContext) -> None:
        """Refuse an item whose key field is empty (a `pipeline` error); any other passes on to be stored."""
        fields = key_fields(item, run.spider)
        if fields:
            key_of(as_dict(item), fields)  # a ValueError: not stored
