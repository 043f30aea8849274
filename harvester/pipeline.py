"""Item pipelines: loaded from `[project].pipelines` and run in that order.

A pipeline is a class with optional `open(run)`, `process_item(item, run)`
(sync or async; raise `DropItem` to drop) and `close(run)`. A setting names
the class by dotted path, or names a module that defines one pipeline class.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

from harvester.events import ItemDropped, ItemScraped
from harvester.exceptions import DropItem, SpiderLoadError
from harvester.items import as_dict
from harvester.run import Run


def load_pipeline(path: str) -> Any:
    """The pipeline class `path` names: `pkg.module.Class` or `pkg.module`."""
    module_path, _, attr = path.rpartition(".")
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
        raise SpiderLoadError(f"pipeline {path!r} failed to import: {type(exc).__name__}: {exc}") from None
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and obj.__module__ == module.__name__ and hasattr(obj, "process_item")
    ]
    if len(found) != 1:
        raise SpiderLoadError(f"pipeline module {path!r} must define exactly one class with process_item")
    return found[0]


class Pipelines:
    def __init__(self, pipelines: Sequence[Any]) -> None:
        self.pipelines = list(pipelines)

    async def open(self, run: Run) -> None:
        for pipeline in self.pipelines:
            if hasattr(pipeline, "open"):
                await _maybe_await(pipeline.open(run))

    async def process(self, item: Any, run: Run) -> bool:
        """Pass one item through every pipeline; False when dropped or failed (recorded)."""
        url = run.item_url()
        for pipeline in self.pipelines:
            try:
                result = pipeline.process_item(item, run)
                if inspect.isawaitable(result):  # (no coroutine of our own per item: a hot path)
                    result = await result
            except DropItem as exc:
                run.events.emit(ItemDropped(item, str(exc), url))
                return False
            except Exception as exc:  # noqa: BLE001 - a failing pipeline loses one item, not the run
                name = type(pipeline).__name__
                run.record_error("pipeline", f"{name}: {type(exc).__name__}: {exc} (item {_short(item)})", url)
                return False
            if result is not None:
                item = result
        run.events.emit(ItemScraped(item, url))
        return True

    async def close(self, run: Run) -> None:
        for pipeline in reversed(self.pipelines):
            if hasattr(pipeline, "close"):
                try:
                    await _maybe_await(pipeline.close(run))
                except Exception as exc:  # noqa: BLE001
                    run.record_error("pipeline", f"{type(pipeline).__name__}.close: {type(exc).__name__}: {exc}")


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _short(item: Any) -> str:
    try:
        text = str(as_dict(item))
    except Exception:  # noqa: BLE001
        text = repr(item)
    return text if len(text) <= 200 else text[:197] + "..."
