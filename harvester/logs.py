"""What a person watching a run sees: the log set-up of the command line, errors as they happen
(summarised when one kind repeats), one line per response with `-v`, and the run's closing lines.

Every `errors` row is logged as it is recorded (`WARNING harvester.errors: KIND error at URL:
CAUSE`). On the terminal the first `FLOOD` lines of one kind are shown, then one line every
`NOTE_SECONDS` counts those not shown, so a site that fails a thousand times cannot bury the
rest; a log file (`--logfile`) gets every line. A spider's exception (kinds `spider`, `parse`,
`internal`) comes with its traceback the first time each exception type is raised at one place
(with `-v`, every time). The closing lines list the run's errors by kind, with one example each.

Levels: `-q` shows warnings and errors only, the default adds progress lines, `-v` adds one
line per response (status, URL, seconds, size) and debug messages.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

from harvester.fetching.base import Fetch
from harvester.request import Request
from harvester.response import Response
from harvester.storage.files import open_private

FLOOD = 10  # lines of one error kind shown on the terminal before they are counted instead
NOTE_SECONDS = 5.0  # at most one "N more" line per kind this often
TRACEBACK_KINDS = frozenset({"spider", "parse", "pipeline", "internal"})  # a fault in the project's code (or ours)
EXAMPLE_CHARS = 300
FAULT_LOGGERS = ("harvester.engine", "harvester.pipeline")  # log a fault at debug just before its row

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("httpx", "httpcore", "alembic", "asyncio")

errors_log = logging.getLogger("harvester.errors")
responses_log = logging.getLogger("harvester.responses")
closing_log = logging.getLogger("harvester.run")


def configure(verbose: bool = False, quiet: bool = False, logfile: str | Path | None = None) -> ErrorLog:
    """Log to stderr (or to `logfile`, appended, created 0600) at the level the options ask for;
    the `ErrorLog` that collects each error kind's first example for the closing lines."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if logfile is not None:
        handler: logging.Handler = logging.StreamHandler(open_private(logfile, "a", encoding="utf-8"))
        handler.setFormatter(Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(Formatter(FORMAT, datefmt="%H:%M:%S"))
        handler.addFilter(Flood())
    handler.setLevel(level)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "harvester", False)]:
        root.removeHandler(old)
    handler.harvester = "file" if logfile is not None else "stderr"  # type: ignore[attr-defined]  # ours
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    found = ErrorLog(every_traceback=verbose)
    for logger in (errors_log, *map(logging.getLogger, FAULT_LOGGERS)):
        for old_filter in [f for f in logger.filters if isinstance(f, ErrorLog)]:
            logger.removeFilter(old_filter)
        logger.addFilter(found)
    for name in FAULT_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)  # their faults' tracebacks reach ErrorLog
    return found


def to_file() -> bool:
    """Whether the log goes to a file (`--logfile`) rather than the terminal."""
    return any(getattr(h, "harvester", None) == "file" for h in logging.getLogger().handlers)


class ErrorLog(logging.Filter):
    """Sees every error as it is logged: keeps each kind's first example, and gives a spider's
    exception its traceback (the engine logs the exception at debug level just before the row)."""

    def __init__(self, every_traceback: bool = False) -> None:
        super().__init__()
        self.every_traceback = every_traceback
        self.examples: dict[str, str] = {}
        self._seen: set[tuple[str, str, int]] = set()
        self._pending = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.name in FAULT_LOGGERS:
            if record.levelno == logging.DEBUG and record.exc_info and len(args) == 2:
                self._pending.fault = (args[0], record.exc_info)  # (kind, exception), for the row that follows
                return False  # shown with the error's own line instead
            return True
        if record.name == "harvester.errors" and args:
            kind = str(args[0])
            self.examples.setdefault(kind, _shorten(": ".join(map(str, args[1:]))))
            fault = getattr(self._pending, "fault", None)
            self._pending.fault = None
            if fault is not None and fault[0] == kind and kind in TRACEBACK_KINDS and self._first(fault[1]):
                record.exc_info = fault[1]
        return True

    def _first(self, exc_info: Any) -> bool:
        """Whether this exception type, raised at this place, is shown with a traceback."""
        if self.every_traceback:
            return True
        frames = traceback.extract_tb(exc_info[2])
        where = (
            (exc_info[0].__name__, frames[-1].filename, frames[-1].lineno or 0)
            if frames
            else (exc_info[0].__name__, "", 0)
        )
        if where in self._seen:
            return False
        self._seen.add(where)
        return True


class Formatter(logging.Formatter):
    """Log lines; an error row's exception as `ValueError raised here (most recent call last):` and
    its frames, so that the word Traceback still means that Harvester itself stopped."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.name == "harvester.errors" and record.exc_info and record.exc_info[0] is not None:
            name = record.exc_info[0].__name__
            text = text.replace("Traceback (most recent call last):", f"{name} raised here (most recent call last):")
        return text


class Flood(logging.Filter):
    """On the terminal: the first `FLOOD` errors of a kind, then a count of the others now and then."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: Counter[str] = Counter()
        self.hidden: Counter[str] = Counter()
        self.noted: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "harvester.errors" or not isinstance(record.args, tuple) or not record.args:
            return True
        kind = str(record.args[0])
        self.shown[kind] += 1
        if self.shown[kind] <= FLOOD:
            return True
        now = time.monotonic()
        if self.shown[kind] == FLOOD + 1:
            record.msg, record.args = (
                ("more %s errors are counted, not shown (one line every %g s; the errors table has them all)"),
                (kind, NOTE_SECONDS),
            )
            record.exc_info = None
            self.noted[kind] = now
            return True
        self.hidden[kind] += 1
        if now - self.noted[kind] < NOTE_SECONDS:
            return False
        record.msg, record.args = "%d more %s errors (see the errors table)", (self.hidden[kind], kind)
        record.exc_info = None
        self.hidden[kind] = 0
        self.noted[kind] = now
        return True


class ResponseLog:
    """The fetch step the engine calls: with `-v`, one line per response as it arrives."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch

    def __call__(self, request: Request) -> Coroutine[Any, Any, Response]:
        if not responses_log.isEnabledFor(logging.DEBUG):
            return self.fetch(request)  # not wrapped: no coroutine of its own on every resume of the fetch
        return self._logged(request)

    async def _logged(self, request: Request) -> Response:
        started = time.monotonic()
        response = await self.fetch(request)
        if response.streamed:  # its line once the body is done with: how much of it was read
            _log_when_closed(response, started)
        else:
            _log_response(response, started, f"{len(response.body)} bytes")
        return response


def _log_response(response: Response, started: float, size: str) -> None:
    cached = ", from cache" if response.from_cache else ""
    responses_log.debug("%d %s (%.3f s, %s%s)", response.status, response.url, time.monotonic() - started, size, cached)


def _log_when_closed(response: Response, started: float) -> None:
    """Log a streamed response when it is closed (the engine closes each one after its callback)."""
    close = response._close

    async def logged_close() -> None:
        read = "streamed, not read" if response.stream is not None else f"{response.received} bytes streamed"
        _log_response(response, started, read)
        if close is not None:
            await close()

    response._close = logged_close


def closing_lines(run_id: int, kinds: Mapping[str, int], examples: Mapping[str, str]) -> list[str]:
    """The run's errors by kind, most frequent first, with an example of each this process saw."""
    if not kinds:
        return []
    lines = [f'errors by kind (all of them: harvester query "select * from errors where run_id = {run_id}"):']
    width = max(len(kind) for kind in kinds)
    for kind, count in sorted(kinds.items(), key=lambda pair: (-pair[1], pair[0])):
        example = f"  e.g. {examples[kind]}" if kind in examples else ""
        lines.append(f"  {kind:<{width}} {count:>6}{example}")
    return lines


def _shorten(text: str) -> str:
    text = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
