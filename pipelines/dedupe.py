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

from harvester import DropItem, RunContext
from harvester.items import as_dict, key_fields, key_of


class DedupePipeline:
    def __init__(self) -> None:
        self.seen: set[bytes] = set()

    def open(self, run: RunContext) -> None:
        if not run.resumed:
            return
        for row in run.query("select key, data from items where run_id = :id", {"id": run.id}):
            key, data = row["key"], row["data"]
            if key is None and isinstance(data, str):  # SQLite returns the JSON column as text
                data = json.loads(data)
            self.seen.add(_digest(f"key:{key}" if key is not None else data))

    def process_item(self, item: Any, run: RunContext) -> None:
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
