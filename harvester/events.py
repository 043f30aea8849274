"""Run events: what happens in a run, as typed values a project or a spider can subscribe to.

The engine, the scheduler, the pipelines and the run emit them as things
happen; the run's own figures (`harvester.stats`) are counted from the same
events, so what a subscriber sees and what `runs.stats` says cannot drift.

    RunOpened -> (RequestScheduled | RequestFiltered)* -> ResponseReceived ->
        (ItemScraped | ItemDropped | ErrorRecorded)* ... -> RunClosed

A subscriber registers handlers with `Events.on(EventType, handler)`: a
project names its subscribers in `[project] subscribers` (dotted paths to a
class with a `subscribe(events)` method, or to such a function), a spider
overrides `Spider.subscribe(events)`. A handler is a plain function or a
coroutine function; a coroutine runs as a task the run awaits before it
closes. A handler that raises is logged once (the run goes on) and counted.
Emitting an event nobody listens to costs one dictionary look-up. Events are
slotted dataclasses, not frozen ones (a frozen one costs twice as much to build,
and a page can emit a dozen): a handler reads them and does not change them.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from harvester.exceptions import SpiderLoadError

if TYPE_CHECKING:
    from harvester.config import Settings
    from harvester.request import Request
    from harvester.response import Response

log = logging.getLogger("harvester.events")


@dataclass(slots=True)
class RunOpened:
    """A run started (or resumed): emitted once, before its first request is scheduled."""

    run_id: int
    spider: str
    resumed: bool
    settings: Settings  # the spider's settings: harvester.toml, its custom_settings, then -s


@dataclass(slots=True)
class RunClosed:
    """A run ended, after its pipelines closed; `reason` is `finished`, a limit (`max_pages`,
    `max_items`, `max_errors`, `max_seconds`), a `CloseSpider` reason, `interrupted` or `failed`."""

    run_id: int
    spider: str
    reason: str
    status: str  # what `runs.status` says: finished, interrupted or failed
    stats: Mapping[str, Any]  # the run's figures, as kept in `runs.stats`


@dataclass(slots=True)
class RequestScheduled:
    """A request was admitted to the frontier (a start request or one a callback yielded)."""

    request: Request


@dataclass(slots=True)
class RequestFiltered:
    """A request was not queued; `reason` is `duplicate`, `offsite`, `depth` or `unsafe_scheme`."""

    request: Request
    reason: str


@dataclass(slots=True)
class ResponseReceived:
    """A request got its final response, recorded as one `pages` row (a streamed one once read)."""

    request: Request
    response: Response
    size: int  # bytes received


@dataclass(slots=True)
class ItemScraped:
    """An item passed every pipeline; `url` is the page it came from."""

    item: Any
    url: str | None


@dataclass(slots=True)
class ItemDropped:
    """A pipeline dropped an item with `DropItem(reason)`."""

    item: Any
    reason: str
    url: str | None


@dataclass(slots=True)
class ErrorRecorded:
    """One `errors` row: `kind` such as `http`, `network`, `timeout`, `parse`, `spider`, `pipeline`."""

    kind: str
    message: str
    url: str | None


Event = (
    RunOpened
    | RunClosed
    | RequestScheduled
    | RequestFiltered
    | ResponseReceived
    | ItemScraped
    | ItemDropped
    | ErrorRecorded
)
E = TypeVar(
    "E",
    RunOpened,
    RunClosed,
    RequestScheduled,
    RequestFiltered,
    ResponseReceived,
    ItemScraped,
    ItemDropped,
    ErrorRecorded,
)


class Events:
    """A run's event dispatcher: handlers by event type, called in the order they subscribed."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[Any], Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._failures: Counter[str] = Counter()

    def on(self, event_type: type[E], handler: Callable[[E], Any]) -> None:
        """Call `handler(event)` for each event of `event_type` (a coroutine function is awaited as a task)."""
        self._handlers.setdefault(event_type, []).append(handler)

    def wants(self, event_type: type) -> bool:
        """Whether anything subscribed to `event_type`: lets a hot path skip building the event."""
        return event_type in self._handlers

    def emit(self, event: Event) -> None:
        """Hand `event` to its handlers; one that raises is logged (once) and the others still run."""
        handlers = self._handlers.get(type(event))
        if handlers is None:
            return
        for handler in handlers:
            try:
                result = handler(event)
                if result is not None and inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
            except Exception as exc:  # noqa: BLE001 - a subscriber's fault never ends the run
                self._failed(handler, exc)

    async def drain(self) -> None:
        """Wait for the async handlers still running."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def report_failures(self) -> None:
        """At the run's close: one line per handler that raised more than once."""
        for name, count in self._failures.items():
            if count > 1:
                log.warning("event handler %s raised %d times in this run", name, count)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failed(task.get_coro(), task.exception())  # type: ignore[arg-type]

    def _failed(self, handler: Any, exc: BaseException) -> None:
        name = getattr(handler, "__qualname__", None) or repr(handler)
        self._failures[name] += 1
        if self._failures[name] == 1:
            log.warning("event handler %s raised %s: %s (logged once; the run goes on)", name, type(exc).__name__, exc)


def load_subscribers(paths: tuple[str, ...] | list[str]) -> list[Callable[[Events], Any]]:
    """The `subscribe(events)` callables of `[project] subscribers`, in order; a class is
    instantiated here. One that cannot load is a SpiderLoadError (one line, before the run starts)."""
    found = []
    for path in paths:
        target: Any = _load(path)
        if inspect.isclass(target):
            try:
                target = getattr(target(), "subscribe")  # noqa: B009 - checked by _load
            except Exception as exc:  # noqa: BLE001 - one line, before the run starts
                raise SpiderLoadError(f"subscriber {path!r} failed to start: {type(exc).__name__}: {exc}") from None
        found.append(target)
    return found


def subscribe(events: Events, who: str, subscribe: Callable[[Events], Any]) -> None:
    """Call a subscriber's `subscribe(events)`; one that raises is a SpiderLoadError naming `who`."""
    try:
        subscribe(events)
    except Exception as exc:  # noqa: BLE001 - one line: the run closes before its first request
        raise SpiderLoadError(f"{who}: subscribe() raised {type(exc).__name__}: {exc}") from None


def _load(path: str) -> Any:
    """The class or function `path` (`pkg.module.Name`) names."""
    module_path, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_path) if module_path else None
    except Exception as exc:  # noqa: BLE001 - any import failure is one clear line
        raise SpiderLoadError(f"subscriber {path!r} failed to import: {type(exc).__name__}: {exc}") from None
    target = getattr(module, name, None)
    if not (inspect.isclass(target) and callable(getattr(target, "subscribe", None))) and not (
        inspect.isfunction(target)
    ):
        raise SpiderLoadError(
            f"subscriber {path!r} must name a class with a subscribe(events) method, or a function taking the events"
        )
    return target
