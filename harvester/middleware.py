"""Fetch middlewares: every step between the engine and a transport has one shape.

A middleware is an async callable `(request, call_next) -> Response`: it may
change the request, call `call_next(request)` (the rest of the chain) zero or
more times, and change or replace the response. Middlewares are composed in
an ordered list, outermost first, as Starlette composes its middleware and
httpx wraps transports; there are no numeric priorities.

A project names its own in `[project] middlewares` (dotted paths), a spider in
its `middlewares` class attribute (classes, or dotted paths). A class is
constructed with the run's `Settings`; a plain async function is used as it
is. They run after retries and before the per-host throttle, so they see every
attempt (each redirect hop, each retry), robots.txt fetches included; the login
and cookie steps come after them, so they never handle a password:

    robots -> revalidate -> redirect -> retry -> [project's] -> [spider's] -> throttle -> auth -> cookies
      -> deadline -> transport
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from harvester.exceptions import ConfigError
from harvester.request import Request
from harvester.response import Response

if TYPE_CHECKING:
    from harvester.config import Settings

CallNext = Callable[[Request], Awaitable[Response]]


class Middleware(Protocol):
    """One fetch step: `await call_next(request)` runs the rest of the chain.

    Usually an `async def`; a plain method that returns an awaitable works too,
    so a step with nothing to do for a request can return `call_next(request)`
    itself, and the chain's coroutines are one fewer (the built-in robots and
    login steps do so).

    Example:
        ```python
        class AddHeader:
            def __init__(self, settings):
                self.value = "harvester"

            async def __call__(self, request, call_next):
                headers = {**(request.headers or {}), "X-Crawler": self.value}
                return await call_next(request.replace(headers=headers))
        ```
    """

    def __call__(self, request: Request, call_next: CallNext) -> Awaitable[Response]: ...


class _Link:
    """One middleware bound to the rest of the chain; calling it costs no coroutine of its own."""

    __slots__ = ("step", "call_next")

    def __init__(self, step: Middleware, call_next: CallNext) -> None:
        self.step = step
        self.call_next = call_next

    def __call__(self, request: Request) -> Awaitable[Response]:
        return self.step(request, self.call_next)


def compose(middlewares: Sequence[Middleware], endpoint: CallNext) -> CallNext:
    """The chain `middlewares[0] -> middlewares[1] -> ... -> endpoint`, as one `async (request) -> Response`."""
    chain = endpoint
    for step in reversed(middlewares):
        chain = _Link(step, chain)
    return chain


def load(entries: Iterable[Any], settings: Settings, where: str) -> list[Middleware]:
    """Middlewares from a list of dotted paths, classes or functions; `ConfigError` naming a bad entry.

    A class is constructed with `settings`; a function (or any other callable) is used as it is.
    `where` names the list in messages (`[project] middlewares`, `Spider.middlewares`).
    """
    found = []
    for entry in entries:
        target: Any = _resolve(entry, where) if isinstance(entry, str) else entry
        if inspect.isclass(target):
            construct: Callable[[Settings], Any] = target
            try:
                target = construct(settings)
            except Exception as exc:  # noqa: BLE001 - one line, before the run starts
                raise ConfigError(f"{where}: {_name(entry)} failed to start: {type(exc).__name__}: {exc}") from None
        if not callable(target):
            raise ConfigError(f"{where}: {_name(entry)} is not a class or function")
        found.append(target)
    return found


def _resolve(path: str, where: str) -> Any:
    module_path, _, attr = path.rpartition(".")
    if not module_path or not attr:
        raise ConfigError(f"{where}: {path!r} is not a dotted path (module.Name)")
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:  # noqa: BLE001 - any import failure is one clear line
        raise ConfigError(f"{where}: cannot import {module_path!r} for {path!r}: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{where}: {module_path!r} has no {attr!r}") from None


def _name(entry: Any) -> str:
    return repr(entry) if isinstance(entry, str) else getattr(entry, "__qualname__", repr(entry))
