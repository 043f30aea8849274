"""Pipeline: items -> the `items` table, in batches, one transaction per batch.

A batch is written whole or not at all; a transient database error (locked,
connection lost) is retried a few times before the batch is recorded as a
pipeline error.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, OperationalError

from harvester.items import as_dict
from harvester.run import Run
from harvester.storage.recorder import now
from harvester.storage.tables import items

RETRIES = 3


class StorePipeline:
    def __init__(self) -> None:
        self._batch: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    def open(self, run: Run) -> None:
        self.batch_size = run.settings.storage.batch_size
        self.engine = run.engine

    async def process_item(self, item: Any, run: Run) -> None:
        self._batch.append(
            {"run_id": run.id, "spider": run.spider_name, "url": run.item_url(),
             "data": as_dict(item), "created_at": now()}
        )
        if len(self._batch) >= self.batch_size and not self._lock.locked():
            await self.flush(run)

    async def flush(self, run: Run) -> None:
        async with self._lock:
            batch, self._batch = self._batch, []
            if not batch:
                return
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # noqa: BLE001 - recorded; the crawl goes on
                reason = str(getattr(exc, "orig", exc)).splitlines()[0] if str(exc) else type(exc).__name__
                run.record_error("pipeline", f"store: a batch of {len(batch)} items was not written: {reason}")

    async def close(self, run: Run) -> None:
        await self.flush(run)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(RETRIES + 1):
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(items), batch)
                return
            except OperationalError as exc:
                if attempt == RETRIES or not _transient(exc):
                    raise
                time.sleep(0.2 * 2**attempt)


def _transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return exc.connection_invalidated or any(
        word in text for word in ("locked", "busy", "connection", "terminat", "deadlock")
    )
