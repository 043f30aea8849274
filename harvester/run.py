"""A run as pipelines see it: its id, spider, settings, database, journal and figures.

`Run.item_url()` names the page the item being processed came from; each
request is handled in its own unit (`harvester.storage.journal`), so
concurrent callbacks never mix their URLs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from harvester.config import Settings
from harvester.events import ErrorRecorded, Events
from harvester.stats import Stats
from harvester.storage.journal import Journal

if TYPE_CHECKING:
    from harvester.spider import Spider

log = logging.getLogger("harvester.errors")


@dataclass
class Run:
    id: int
    spider: Spider
    settings: Settings
    engine: Engine
    journal: Journal
    job: str | None = None
    stats: Stats = field(default_factory=Stats)
    status: str = "running"
    resumed: bool = False
    failure: str | None = None  # why a failed run failed
    events: Events = field(default_factory=Events)  # the run's events; its figures are counted from them

    def __post_init__(self) -> None:
        self.stats.subscribe(self.events)

    @property
    def spider_name(self) -> str:
        return self.spider.name

    def item_url(self) -> str | None:
        """The URL of the response the current item came from (after redirects)."""
        return self.journal.current_url()

    def record_error(self, kind: str, message: str, url: str | None = None) -> None:
        """One `errors` row for this run, counted in its figures, and logged as it happens."""
        if url:
            log.warning("%s error at %s: %s", kind, _one_line(url), _one_line(message))
        else:
            log.warning("%s error: %s", kind, _one_line(message))
        self.journal.error(url, kind, message)
        self.events.emit(ErrorRecorded(kind, message, url))


def _one_line(text: str) -> str:
    """Text for a log line: control characters (a URL's raw newline) escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
