"""Spider callback results, whatever their shape, as one async stream of outputs.

A callback may return None, a Request, an item, an iterable of them, an
awaitable of any of these, or be a generator or an async generator.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

from harvester.items import is_item
from harvester.request import Request


async def outputs(result: Any) -> AsyncIterator[Any]:
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return
    if isinstance(result, Request) or is_item(result):
        yield result
    elif hasattr(result, "__aiter__"):
        async for value in result:
            yield value
    elif isinstance(result, str | bytes):
        raise TypeError(f"a callback returned {type(result).__name__}, not a Request, item or iterable")
    else:
        for value in result:
            yield value
