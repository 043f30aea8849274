"""Run limits: when a run closes before its frontier is empty, and why (Scrapy's CLOSESPIDER_*).

`[crawl] max_pages`, `max_items`, `max_errors` and `max_seconds` (0: none)
count the whole run, across `--resume`: the figures they read are the run's,
recounted from its rows when it resumes. `max_pages` is never exceeded: a
request is only dispatched while the pages fetched plus the requests in flight
stay under it. `max_items` is never exceeded either: an item past it is not
processed. `max_errors` and `max_seconds` close the run once reached; requests
in flight then finish (and may add errors).

Workers sharing a run (`harvester worker`) count the run's pages together: a
claim takes no more requests than `max_pages` less the run's pages and the
requests claimed by any worker (`harvester.storage.leases.budget`), and each
worker closes on the run's pages and stored items as its last claim counted
them. `max_items` across workers closes the run once the run's stored items
reach it; items other workers hold in their pipelines then may pass it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from harvester.config import CrawlSettings
from harvester.stats import Stats


class CloseReason(enum.StrEnum):
    """Why a run closed (`stats["close_reason"]`); a spider's `CloseSpider(reason)` gives its own."""

    FINISHED = "finished"
    MAX_PAGES = "max_pages"
    MAX_ITEMS = "max_items"
    MAX_ERRORS = "max_errors"
    MAX_SECONDS = "max_seconds"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class Limits:
    """A run's limits, checked against its figures (and, shared, every worker's: `shared`)."""

    def __init__(self, crawl: CrawlSettings, stats: Stats, shared: Callable[[], tuple[int, int]] | None = None) -> None:
        """`shared`: the run's pages and items counted by all its workers (`DbFrontier.run_figures`)."""
        self.max_pages = crawl.max_pages
        self.max_items = crawl.max_items
        self.max_errors = crawl.max_errors
        self.max_seconds = crawl.max_seconds
        self.stats = stats
        self.shared = shared

    def _pages(self) -> int:
        return self.stats.pages if self.shared is None else max(self.stats.pages, self.shared()[0])

    def _items(self) -> int:
        return self.stats.items if self.shared is None else max(self.stats.items, self.shared()[1])

    def may_dispatch(self, in_flight: int) -> bool:
        """Whether one more request may start: every request in flight may still become a page."""
        return not self.max_pages or self._pages() + in_flight < self.max_pages

    def may_process_item(self, in_pipelines: int) -> bool:
        """Whether one more item may enter the pipelines."""
        return not self.max_items or self._items() + in_pipelines < self.max_items

    def reached(self) -> CloseReason | None:
        """The first limit the run's figures have reached, if any."""
        stats = self.stats
        if self.max_pages and self._pages() >= self.max_pages:
            return CloseReason.MAX_PAGES
        if self.max_items and self._items() >= self.max_items:
            return CloseReason.MAX_ITEMS
        if self.max_errors and stats.errors >= self.max_errors:
            return CloseReason.MAX_ERRORS
        if self.max_seconds and stats.seconds() >= self.max_seconds:
            return CloseReason.MAX_SECONDS
        return None

    def seconds_left(self) -> float | None:
        """Seconds until `max_seconds` (None without one)."""
        return max(0.0, self.max_seconds - self.stats.seconds()) if self.max_seconds else None
