"""One request's outcome, and the recorder the engine hands it to.

The engine gathers what one request produced in an `Outcome`: its page row,
its errors, the items the `store` pipeline kept (through the request's run
context, `RunContext.store_item`, as they were when they reached it), the
frontier rows of the requests it found, and its done mark. When the request
is finished the outcome goes, whole, to the `Recorder` the composition root gave the engine
(`harvester.crawler`): the run's journal, which writes it in one transaction
(`harvester.storage.journal`). A request cancelled midway is never recorded,
so a resume does it again.

A request that yields very many items or links (a feed) hands them on early
(`Recorder.pace`), so memory stays bounded; the same call makes a producer
faster than the database wait for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from harvester.items import safe_text

SPILL = 2000  # items (or found requests) of one request held before they are handed on
DoneMark = tuple[int, str | None, dt.datetime | None]  # frontier row, its claim's token, the host's next start


@dataclass(slots=True)
class Outcome:
    """What one request produced, recorded together (`Recorder.record`)."""

    run_id: int
    source: int | None = None  # its frontier row: with `seq`, each item's place in the run
    url: str | None = None  # the response's URL: what its items came from
    pages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)  # rows of the items the store pipeline kept
    found: list[dict[str, Any]] = field(default_factory=list)  # frontier rows (`harvester.frontier`)
    done: DoneMark | None = None  # the request's own frontier row, finished
    seq: int = 0  # the number of this request's next item

    def page(self, **row: Any) -> None:
        """The request's `pages` row (url, final_url, status, content_type, size, redirects)."""
        self.pages.append({"run_id": self.run_id, "fetched_at": dt.datetime.now(dt.UTC), **row})

    def error(self, kind: str, message: str, url: str | None) -> None:
        """One `errors` row."""
        self.errors.append(
            {
                "run_id": self.run_id,
                "url": url,
                "kind": kind,
                "at": dt.datetime.now(dt.UTC),
                "message": safe_text(message[:2000]),
            }
        )  # no NUL (PostgreSQL), lone surrogate (UTF-8)

    @property
    def full(self) -> bool:
        """Whether it holds enough items or found requests to hand them on before the request is done."""
        return len(self.items) >= SPILL or len(self.found) >= SPILL

    @property
    def empty(self) -> bool:
        """Whether there is nothing to write."""
        return not (self.pages or self.errors or self.items or self.found or self.done)


class Recorder(Protocol):
    """Where the engine hands each request's outcome: the run's journal."""

    @property
    def behind(self) -> bool:
        """Whether producers should wait (`pace`): outcomes are coming faster than they are written."""
        ...

    def record(self, outcome: Outcome) -> None:
        """The request is finished: its outcome is written, whole, soon."""
        ...

    async def pace(self, outcome: Outcome) -> None:
        """Hand on a `full` outcome's items and found requests early; wait while `behind`."""
        ...
