"""A run as pipelines see it: its id, spider, settings, database and figures.

`Run.item_url()` names the page the item being processed came from; the
engine sets it per task, so concurrent callbacks never mix their URLs.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from harvester.config import Settings
from harvester.stats import Stats

if TYPE_CHECKING:
    from harvester.spider import Spider
    from harvester.storage.recorder import Recorder

_item_url: contextvars.ContextVar[str | None] = contextvars.ContextVar("item_url", default=None)


@dataclass
class Run:
    id: int
    spider: Spider
    settings: Settings
    engine: Engine
    recorder: Recorder
    job: str | None = None
    stats: Stats = field(default_factory=Stats)
    status: str = "running"

    @property
    def spider_name(self) -> str:
        return self.spider.name

    def item_url(self) -> str | None:
        """The URL of the response the current item came from (after redirects)."""
        return _item_url.get()

    def record_error(self, kind: str, message: str, url: str | None = None) -> None:
        """One `errors` row for this run, counted in its figures."""
        self.stats.errors += 1
        self.stats.error_kinds[kind] += 1
        self.recorder.error(url, kind, message)


def set_item_url(url: str | None) -> None:
    _item_url.set(url)
