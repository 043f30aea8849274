"""Pipeline: repeats within a run dropped, by the item's key fields.

The key fields are the item class's `key` or the spider's `item_key` (as for
the store); an item with neither is compared whole. Only a 16-byte digest of
each key is kept, so a run of a million items costs tens of megabytes, not
the items themselves. A resumed run starts from the items it stored before
the stop. A repeat is dropped as "duplicate" (counted in `filtered`); the
first one seen wins.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from harvester import DropItem
from harvester.items import as_dict, key_fields, key_of
from harvester.run import Run
from harvester.storage.tables import items


class DedupePipeline:
    def __init__(self) -> None:
        self.seen: set[bytes] = set()

    def open(self, run: Run) -> None:
        if not run.resumed:
            return
        query = select(items.c.key, items.c.data).where(items.c.run_id == run.id)
        with run.engine.connect() as connection:
            for key, data in connection.execute(query):
                self.seen.add(_digest(f"key:{key}" if key is not None else data))

    def process_item(self, item: Any, run: Run) -> None:
        data = as_dict(item, scrub_nul=True)
        fields = key_fields(item, run.spider)
        try:
            identity: Any = f"key:{key_of(data, fields)}" if fields else data
        except ValueError:  # no key value: compared whole (the store will refuse it)
            identity = data
        digest = _digest(identity)
        if digest in self.seen:
            raise DropItem("duplicate")
        self.seen.add(digest)


def _digest(identity: Any) -> bytes:
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
