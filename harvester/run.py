"""A run as pipelines see it: its id, spider, settings, database, journal and figures.

Pipelines are given it as a `harvester.RunContext` (`harvester.pipeline`): its id,
spider, settings, `item_url()`, `record_error()`, `store_item()` and the
read-only `query()`.
`RunStatus` names the states of `runs.status`.

An item is processed with the context of the request it came from
(`Run.for_request`): its `item_url()` names that page, and the errors it
records, and the items it stores (`store_item`, what the `store` pipeline
does), are written with that request's outcome (`harvester.outcome`), so
concurrent callbacks never mix their URLs. An item is stored as it was when
stored: a pipeline listed after `store` that changes or drops it does not
change or take back what was stored, as in Scrapy.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harvester.config import Settings
from harvester.events import ErrorRecorded, Events
from harvester.exceptions import ErrorKind, QueryError
from harvester.stats import Stats

if TYPE_CHECKING:  # `import harvester` (RunStatus) loads no SQLAlchemy
    from sqlalchemy.engine import Engine

    from harvester.outcome import Outcome
    from harvester.spider import Spider
    from harvester.storage.journal import Journal

log = logging.getLogger("harvester.errors")

_READING = re.compile(r"\s*(select|with|values)\b", re.IGNORECASE)  # after leading comments


class RunStatus(enum.StrEnum):
    """The `status` of a run (the value is what `runs.status` holds)."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass
class Run:
    """One run; pipelines see it as a `harvester.RunContext`."""

    id: int
    spider: Spider
    settings: Settings
    engine: Engine
    journal: Journal
    job: str | None = None
    stats: Stats = field(default_factory=Stats)
    status: RunStatus = RunStatus.RUNNING
    resumed: bool = False
    failure: str | None = None  # why a failed run failed
    events: Events = field(default_factory=Events)  # the run's events; its figures are counted from them

    def __post_init__(self) -> None:
        self.stats.subscribe(self.events)

    @property
    def spider_name(self) -> str:
        return self.spider.name

    def item_url(self) -> str | None:
        """The URL of the response the current item came from: None outside a request (`for_request`)."""
        return None

    def for_request(self, outcome: Outcome) -> RequestRun:
        """The run as a pipeline sees it while processing the items of the request of `outcome`."""
        return RequestRun(self, outcome)

    def store_item(self, item: Any) -> None:
        """Store `item` in the `items` table, outside any request (no page: `url` is None).

        A `ValueError` when a key field of the item is empty: it is not stored.
        """
        self.journal.keep(None, item)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of one read-only SQL statement (`SELECT`/`WITH`/`VALUES`), as dicts.

        Named parameters are written `:name` and given in `params`. The statement runs in a
        transaction that is always rolled back, so nothing it might change is kept; a
        statement that does not start by reading is refused (`QueryError`).
        """
        if not _READING.match(_strip_comments(sql)) or ";" in _strip_comments(sql).rstrip().rstrip(";"):
            raise QueryError(f"run.query reads only: one SELECT, WITH or VALUES statement, not {sql[:60]!r}")
        from sqlalchemy import text

        with self.engine.connect() as connection:
            try:
                result = connection.execute(text(sql), dict(params or {}))
                return [dict(row) for row in result.mappings()]
            finally:
                connection.rollback()

    def record_error(
        self, kind: ErrorKind | str, message: str, url: str | None = None, outcome: Outcome | None = None
    ) -> None:
        """One `errors` row for this run, counted in its figures, and logged as it happens.

        With `outcome`, the row is written with that request's outcome; without, on its own.
        """
        if url:
            log.warning("%s error at %s: %s", kind, _one_line(url), _one_line(message))
        else:
            log.warning("%s error: %s", kind, _one_line(message))
        if outcome is not None:
            outcome.error(kind, message, url)
        else:
            self.journal.error(kind, message, url)
        self.events.emit(ErrorRecorded(kind, message, url))


class RequestRun:
    """The run while the items of one request are processed: a `harvester.RunContext` of its own.

    `item_url()` is the request's page; errors are written with its outcome.
    Anything else is the run's.
    """

    __slots__ = ("run", "outcome", "events")

    def __init__(self, run: Run, outcome: Outcome) -> None:
        self.run = run
        self.outcome = outcome
        self.events = run.events

    @property
    def id(self) -> int:
        """The run's id."""
        return self.run.id

    @property
    def spider(self) -> Spider:
        """The spider instance being run."""
        return self.run.spider

    @property
    def spider_name(self) -> str:
        """The spider's name."""
        return self.run.spider.name

    @property
    def job(self) -> str | None:
        """The job the run belongs to, or None."""
        return self.run.job

    @property
    def settings(self) -> Settings:
        """The run's settings."""
        return self.run.settings

    @property
    def resumed(self) -> bool:
        """Whether the run goes on where a stopped run left off."""
        return self.run.resumed

    def item_url(self) -> str | None:
        """The URL of the response the item being processed came from (after redirects)."""
        return self.outcome.url

    def record_error(self, kind: ErrorKind | str, message: str, url: str | None = None) -> None:
        """One `errors` row, written with the request's outcome, counted and logged."""
        self.run.record_error(kind, message, url, self.outcome)

    def store_item(self, item: Any) -> None:
        """Store `item` as it is now, written with the request's page in one transaction.

        A `ValueError` when a key field of the item is empty: it is not stored.
        """
        self.run.journal.keep(self.outcome, item)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of one read-only SQL statement (`Run.query`)."""
        return self.run.query(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)  # what else a pipeline read of the run (stats, engine)


def _strip_comments(sql: str) -> str:
    """`sql` without its `--` and `/* */` comments (a statement's first word is what counts)."""
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL)


def _one_line(text: str) -> str:
    """Text for a log line: control characters (a URL's raw newline) escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
