"""Stored copies of pages with their validators, for conditional re-fetching.

One row per spider and request fingerprint: the ETag and Last-Modified a
page was served with, its headers, and its body compressed with zlib. Writes
are buffered and made in batches, off the event loop.

The cache only saves bandwidth: on a bad day (`harvester.storage.retry`) a
read that cannot be made is a miss and a batch that cannot be written is
dropped with a warning; neither fails a request or the run.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from harvester.exceptions import DatabaseError
from harvester.storage.retry import PATIENCE, Patience
from harvester.storage.tables import http_cache
from harvester.utc import now

log = logging.getLogger("harvester.storage")
BATCH = 200
_KEPT_HEADERS = ("content-type", "etag", "last-modified", "content-language")


@dataclass
class Stored:
    url: str
    etag: str | None
    last_modified: str | None
    headers: httpx.Headers
    body: bytes


class HttpCache:
    def __init__(self, engine: Engine, spider: str, patience: float = PATIENCE) -> None:
        self.engine = engine
        self.spider = spider
        self.patience = Patience(patience, "the page cache in the harvest database")
        self._pending: dict[str, dict[str, Any]] = {}

        def count() -> int:
            with engine.connect() as connection:
                query = select(func.count()).select_from(http_cache).where(http_cache.c.spider == spider)
                return int(connection.execute(query).scalar() or 0)

        self.empty = not self.patience.call(count, "read")  # a first run asks the database nothing

    async def get(self, fingerprint: str) -> Stored | None:
        if self.empty:
            return None
        try:
            return await self.patience.run(lambda: self._get(fingerprint), "read")
        except DatabaseError:
            return None  # fetched whole, as if never stored

    def _get(self, fingerprint: str) -> Stored | None:
        query = select(http_cache).where(http_cache.c.spider == self.spider, http_cache.c.fingerprint == fingerprint)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        return Stored(
            row["url"], row["etag"], row["last_modified"], httpx.Headers(row["headers"]), zlib.decompress(row["body"])
        )

    async def put(self, fingerprint: str, url: str, headers: httpx.Headers, body: bytes) -> None:
        self._pending[fingerprint] = {
            "spider": self.spider,
            "fingerprint": fingerprint,
            "url": url,
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
            "headers": {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS},
            "body": zlib.compress(body, 6),
            "stored_at": now(),
        }
        if len(self._pending) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        rows, self._pending = list(self._pending.values()), {}
        if rows:
            try:
                await self.patience.run(lambda: self._write(rows), "write to")
            except DatabaseError as exc:
                log.warning("%s; %d pages not cached", exc, len(rows))

    def _write(self, rows: list[dict[str, Any]]) -> None:
        keys = [row["fingerprint"] for row in rows]
        with self.engine.begin() as connection:
            connection.execute(
                delete(http_cache).where(http_cache.c.spider == self.spider, http_cache.c.fingerprint.in_(keys))
            )
            connection.execute(insert(http_cache), rows)
