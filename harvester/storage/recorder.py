"""The engine's record of a run: its `runs` row, and `pages` and `errors` rows in batches.

Rows are buffered and written in one transaction per batch, off the event
loop, so the crawl never waits on the database for each page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from harvester.storage.tables import errors, pages, runs


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Recorder:
    def __init__(self, engine: Engine, batch_size: int = 500) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.run_id = 0
        self._pages: list[dict[str, Any]] = []
        self._errors: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    def start(self, spider: str, job: str | None = None) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(
                insert(runs).values(spider=spider, job=job, started_at=now(), status="running", stats={})
            )
            self.run_id = int(result.inserted_primary_key[0])
        return self.run_id

    def page(
        self, url: str, final_url: str, status: int, content_type: str | None, size: int,
        redirects: list[str] | None = None,
    ) -> None:
        self._pages.append(
            {"run_id": self.run_id, "url": url, "final_url": final_url, "status": status,
             "content_type": content_type, "size": size, "fetched_at": now(), "redirects": redirects}
        )

    def error(self, url: str | None, kind: str, message: str) -> None:
        self._errors.append(
            {"run_id": self.run_id, "url": url, "kind": kind, "message": message[:2000], "at": now()}
        )

    def pending(self) -> int:
        return len(self._pages) + len(self._errors)

    async def maybe_flush(self) -> None:
        if self.pending() >= self.batch_size and not self._lock.locked():
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch = self._take()
            if any(batch):
                await asyncio.to_thread(self._write, *batch)

    def flush_sync(self) -> None:
        self._write(*self._take())

    def _take(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        batch = (self._pages, self._errors)
        self._pages, self._errors = [], []
        return batch

    def _write(self, page_rows: list[dict[str, Any]], error_rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as connection:
            if page_rows:
                connection.execute(insert(pages), page_rows)
            if error_rows:
                connection.execute(insert(errors), error_rows)

    def progress(self, stats: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(runs).where(runs.c.id == self.run_id).values(stats=stats))

    def finish(self, status: str, stats: dict[str, Any]) -> None:
        self.flush_sync()
        with self.engine.begin() as connection:
            connection.execute(
                update(runs)
                .where(runs.c.id == self.run_id)
                .values(status=status, finished_at=now(), stats=stats)
            )
