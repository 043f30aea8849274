"""Item pipelines: loaded from `[project].pipelines` and run in that order.

A pipeline is a class with optional `open(run)`, `process_item(item, run)`
(sync or async; raise `DropItem` to drop; return an item to replace it) and
optional `close(run)`: the `Pipeline` protocol. What it receives as `run` is a
`RunContext`. Both are exported from `harvester`, so a pipeline imports nothing
else of Harvester's.

A setting names a pipeline by a built-in's short name (`store`, `validate`,
`dedupe`, `export`, `email_report`), or a project's own by dotted path: a class
(`myproject.pipelines.Clean`, or `pipelines.Clean` for a top-level
`pipelines.py` as in Scrapy) or a module that defines one pipeline class. The
old names of the built-ins (`pipelines.store`) still load, with a warning
naming the short one.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import traceback
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harvester.events import ItemDropped, ItemScraped
from harvester.exceptions import DropItem, ErrorKind, SpiderLoadError
from harvester.items import as_dict

if TYPE_CHECKING:
    from harvester.config import Settings
    from harvester.run import Run
    from harvester.spider import Spider

log = logging.getLogger("harvester")
faults_log = logging.getLogger("harvester.pipeline")  # a failing item's exception, before its errors row

BUILTIN = {  # the loader's name table: short name -> class path inside the harvester namespace
    "validate": "harvester.pipelines.validate.ValidatePipeline",
    "dedupe": "harvester.pipelines.dedupe.DedupePipeline",
    "store": "harvester.pipelines.store.StorePipeline",
    "export": "harvester.pipelines.export.ExportPipeline",
    "email_report": "harvester.pipelines.email_report.EmailReportPipeline",
}
_OLD_PREFIX = "pipelines."  # how the built-ins were named when they installed as top-level `pipelines`
_warned: set[str] = set()


@runtime_checkable
class RunContext(Protocol):
    """The run a pipeline is given: what it may read of the run, and how it reports a problem.

    Harvester's own run object satisfies it; a pipeline should use nothing else of it.
    """

    @property
    def id(self) -> int:
        """The run's id (`runs.id`, `items.run_id`)."""
        ...

    @property
    def spider(self) -> Spider:
        """The spider instance being run."""
        ...

    @property
    def spider_name(self) -> str:
        """The spider's name."""
        ...

    @property
    def job(self) -> str | None:
        """The job the run belongs to (`[jobs.NAME]`), or None."""
        ...

    @property
    def settings(self) -> Settings:
        """The run's settings: harvester.toml with its overrides."""
        ...

    @property
    def resumed(self) -> bool:
        """True when the run goes on where a stopped run left off (`--resume`)."""
        ...

    def item_url(self) -> str | None:
        """The URL of the page the item being processed came from (after redirects)."""
        ...

    def record_error(self, kind: ErrorKind | str, message: str, url: str | None = None) -> None:
        """One `errors` row for this run, counted in its figures and logged."""
        ...

    def store_item(self, item: Any) -> None:
        """Store `item` in the `items` table as it is now, with the page it came from (the `store` pipeline).

        A `ValueError` when a key field of the item is empty: it is not stored.
        """
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of one read-only SQL statement on the harvest database, as dicts."""
        ...


@runtime_checkable
class Pipeline(Protocol):
    """What `[project].pipelines` names: `process_item` required, `open` and `close` optional.

    `process_item(item, run)` may be sync or async. It returns None to pass the item
    on unchanged, or another item to pass that on instead; it raises `DropItem` to
    drop the item (counted, not an error). Any other exception loses that item only,
    recorded as a `pipeline` error. `open(run)` is called before the first request,
    `close(run)` after the last item (in reverse order); either may be async.
    """

    def process_item(self, item: Any, run: RunContext) -> Any | Awaitable[Any]:
        """Check, change or keep one item; None passes it on as it is."""
        ...


def load_pipeline(name: str) -> Any:
    """The pipeline class `name` names: a built-in's short name, `pkg.module.Class` or `pkg.module`."""
    path = BUILTIN.get(name) or _old_name(name) or name
    module_path, _, attr = path.rpartition(".")
    if not module_path and importlib.util.find_spec(path) is None:
        raise SpiderLoadError(
            f"no pipeline {name!r}: the built-ins are {', '.join(BUILTIN)}; "
            "a project's own is named by dotted path (mypackage.pipelines.Clean)"
        )
    if module_path:
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError:
            module = None
        if module is not None and inspect.isclass(getattr(module, attr, None)):
            return getattr(module, attr)
    try:
        module = importlib.import_module(path)
    except Exception as exc:  # noqa: BLE001 - any import failure is one clear line
        raise SpiderLoadError(f"pipeline {name!r} failed to import: {type(exc).__name__}: {exc}") from None
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and obj.__module__ == module.__name__ and hasattr(obj, "process_item")
    ]
    if len(found) != 1:
        raise SpiderLoadError(f"pipeline module {name!r} must define exactly one class with process_item")
    return found[0]


def _old_name(name: str) -> str | None:
    """The class an old built-in name (`pipelines.store`) stands for, with a warning once."""
    short = name.removeprefix(_OLD_PREFIX)
    if not name.startswith(_OLD_PREFIX) or short not in BUILTIN:
        return None
    if name not in _warned:
        _warned.add(name)
        log.warning("pipeline %r is an old name: write %r in [project] pipelines", name, short)
    return BUILTIN[short]


class Pipelines:
    """The configured pipelines, run in order for each item (close in reverse)."""

    def __init__(self, pipelines: Sequence[Any]) -> None:
        self.pipelines = list(pipelines)

    async def open(self, run: Run) -> None:
        for pipeline in self.pipelines:
            if hasattr(pipeline, "open"):
                await _maybe_await(pipeline.open(run))

    async def process(self, item: Any, run: RunContext) -> Any | None:
        """Pass one item through every pipeline: the item that came out, or None when dropped or failed (recorded).

        `run` is the run as seen from the item's request (`Run.for_request`).
        """
        url = run.item_url()
        events = run.events  # type: ignore[attr-defined]  # the run's (RunContext does not show them)
        for pipeline in self.pipelines:
            try:
                result = pipeline.process_item(item, run)
                if inspect.isawaitable(result):  # (no coroutine of our own per item: a hot path)
                    result = await result
            except DropItem as exc:
                events.emit(ItemDropped(item, str(exc), url))
                return None
            except Exception as exc:  # noqa: BLE001 - a failing pipeline loses one item, not the run
                where = _where(pipeline, "process_item", exc)
                faults_log.debug("%s error at %s", ErrorKind.PIPELINE, url, exc_info=exc)  # its stack, for -v and once
                run.record_error(ErrorKind.PIPELINE, f"{where}: {type(exc).__name__}: {exc} (item {_short(item)})", url)
                return None
            if result is not None:
                item = result
        events.emit(ItemScraped(item, url))
        return item

    async def close(self, run: Run) -> None:
        for pipeline in reversed(self.pipelines):
            if hasattr(pipeline, "close"):
                try:
                    await _maybe_await(pipeline.close(run))
                except Exception as exc:  # noqa: BLE001
                    faults_log.debug("%s error at %s", ErrorKind.PIPELINE, None, exc_info=exc)
                    run.record_error(
                        ErrorKind.PIPELINE, f"{_where(pipeline, 'close', exc)}: {type(exc).__name__}: {exc}"
                    )


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _where(pipeline: Any, method: str, exc: BaseException) -> str:
    """`Clean.process_item at pricing.py:4`: the pipeline's method and the line of the pipeline's own
    file the exception came through last (else the last line it passed), relative to the current
    directory when under it."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return f"{type(pipeline).__name__}.{method}"
    try:
        source = inspect.getsourcefile(type(pipeline))
    except TypeError:
        source = None
    frame = ([f for f in frames if f.filename == source] or frames)[-1]
    path = Path(frame.filename)
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd())
    return f"{type(pipeline).__name__}.{method} at {path}:{frame.lineno}"


def _short(item: Any) -> str:
    try:
        text = str(as_dict(item))
    except Exception:  # noqa: BLE001
        text = repr(item)
    return text if len(text) <= 200 else text[:197] + "..."
