"""A run's figures: pages, items, errors, bytes, their breakdowns, and why it closed.

They are counted from the run's events (`harvester.events`), the same values a
project's subscribers see, kept in `runs.stats` (JSON) and read back at a
resume, together with what the run must not forget: the operator's `file://` roots.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harvester.events import (
    ErrorRecorded,
    Events,
    ItemDropped,
    ItemScraped,
    RequestFiltered,
    ResponseReceived,
)


@dataclass
class Stats:
    """A run's figures; `subscribe(events)` makes them count the run's events."""

    pages: int = 0
    items: int = 0
    errors: int = 0
    bytes: int = 0
    dropped: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    filtered: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    earlier: float = 0.0  # seconds spent before a resume
    close_reason: str = ""  # finished, interrupted, failed, a limit (max_pages ...) or a CloseSpider reason
    file_roots: list[str] = field(default_factory=list)  # the file:// URLs the operator gave: their trees

    def subscribe(self, events: Events) -> None:
        """Count the run's pages, items, drops, filtered requests and errors from its events."""
        events.on(ResponseReceived, self._page)
        events.on(ItemScraped, self._item)
        events.on(ItemDropped, self._dropped)
        events.on(RequestFiltered, self._filtered)
        events.on(ErrorRecorded, self._error)

    def _page(self, event: ResponseReceived) -> None:
        self.pages += 1
        self.bytes += event.size
        self.statuses[event.response.status] += 1

    def _item(self, event: ItemScraped) -> None:
        self.items += 1

    def _dropped(self, event: ItemDropped) -> None:
        self.dropped += 1
        self.filtered[f"dropped: {event.reason}"[:80]] += 1

    def _filtered(self, event: RequestFiltered) -> None:
        self.filtered[event.reason] += 1

    def _error(self, event: ErrorRecorded) -> None:
        self.errors += 1
        self.error_kinds[event.kind] += 1

    def seconds(self) -> float:
        """Seconds the run has taken, across resumes."""
        return self.elapsed or (self.earlier + time.monotonic() - self.started)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stats:
        """Figures written by an earlier part of a run, to go on from at a resume."""
        return cls(
            pages=data.get("pages", 0),
            items=data.get("items", 0),
            errors=data.get("errors", 0),
            bytes=data.get("bytes", 0),
            dropped=data.get("dropped", 0),
            statuses=Counter({int(k): v for k, v in data.get("statuses", {}).items()}),
            error_kinds=Counter(data.get("errors_by_kind", {})),
            filtered=Counter(data.get("filtered", {})),
            earlier=data.get("seconds", 0.0),
            file_roots=list(data.get("file_roots", [])),
        )

    def as_json(self) -> dict[str, Any]:
        seconds = self.seconds()
        kept: dict[str, Any] = {"close_reason": self.close_reason} if self.close_reason else {}
        if self.file_roots:
            kept["file_roots"] = list(self.file_roots)
        return {
            "pages": self.pages,
            "items": self.items,
            "errors": self.errors,
            "bytes": self.bytes,
            "dropped": self.dropped,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors_by_kind": dict(sorted(self.error_kinds.items())),
            "filtered": dict(sorted(self.filtered.items())),
            "seconds": round(seconds, 3),
            "pages_per_second": round(self.pages / seconds, 1) if seconds > 0 else 0.0,
            **kept,
        }

    def summary(self) -> str:
        seconds = self.seconds()
        rate = self.pages / seconds if seconds > 0 else 0.0
        return f"{self.pages} pages, {self.items} items, {self.errors} errors in {seconds:.1f} s ({rate:.1f} pages/s)"
