"""Pipeline: items -> the `items` table, keyed items updated in place.

Items are not written one by one: an item that reaches this pipeline is kept,
as it is then, in the outcome of the request it came from
(`RunContext.store_item`, `harvester.outcome`), and is written in the same
transaction as that page and the requests it led to
(`harvester.storage.journal`), in batches, whole or not at all; a batch that
meets a transient database error is retried whole. A resumed run therefore
never stores an item twice.

Order matters, as in Scrapy: pipelines listed before `store` decide what is
stored (one that drops an item keeps it out); what reaches `store` is stored,
and a pipeline listed after it (an export, a report, one that drops) changes
or drops the item for what follows, not what was stored. A run without `store`
in its list stores no items.

An item with a natural key (its dataclass's `key` class variable, or the
spider's `item_key`) updates the row stored before under that key, keeping
`first_seen` and the replaced versions in `item_history`
(`harvester.storage.items`); an item without one is appended. An item that
lacks a value for a key field is not stored: that is a `pipeline` error.
"""

from __future__ import annotations

from typing import Any

from harvester import RunContext


class StorePipeline:
    """Stores each item that reaches it in the `items` table, with the page it came from."""

    def process_item(self, item: Any, run: RunContext) -> None:
        """Keep the item, as it is now, with its request's outcome; one whose key field is empty is refused
        (a `ValueError`: a `pipeline` error, and the item goes no further)."""
        run.store_item(item)
