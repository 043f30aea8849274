"""Stored copies of pages with their validators, for conditional re-fetching.

One row per spider and request fingerprint: the ETag and Last-Modified a
page was served with, its headers, and its body compressed with zlib. Writes
are buffered and made in batches, off the event loop.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from harvester.storage.journal import now
from harvester.storage.tables import http_cache

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
    def __init__(self, engine: Engine, spider: str) -> None:
        self.engine = engine
        self.spider = spider
        self._pending: dict[str, dict[str, Any]] = {}
        with engine.connect() as connection:
            count = connection.execute(
                select(func.count()).select_from(http_cache).where(http_cache.c.spider == spider)
            ).scalar()
        self.empty = not count  # a first run asks the database nothing

    async def get(self, fingerprint: str) -> Stored | None:
        if self.empty:
            return None
        return await asyncio.to_thread(self._get, fingerprint)

    def _get(self, fingerprint: str) -> Stored | None:
        query = select(http_cache).where(http_cache.c.spider == self.spider, http_cache.c.fingerprint == fingerprint)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        return Stored(row["url"], row["etag"], row["last_modified"], httpx.Headers(row["headers"]),
                      zlib.decompress(row["body"]))

    async def put(self, fingerprint: str, url: str, headers: httpx.Headers, body: bytes) -> None:
        self._pending[fingerprint] = {
            "spider": self.spider, "fingerprint": fingerprint, "url": url,
            "etag": headers.get("etag"), "last_modified": headers.get("last-modified"),
            "headers": {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS},
            "body": zlib.compress(body, 6), "stored_at": now(),
        }
        if len(self._pending) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        rows, self._pending = list(self._pending.values()), {}
        if rows:
            await asyncio.to_thread(self._write, rows)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        keys = [row["fingerprint"] for row in rows]
        with self.engine.begin() as connection:
            connection.execute(
                delete(http_cache).where(http_cache.c.spider == self.spider, http_cache.c.fingerprint.in_(keys))
            )
            connection.execute(insert(http_cache), rows)
