"""The Spider base class: where requests start and where responses become items.

A callback may return a Request, an item (dict or dataclass), None or an
iterable of them, or be a generator or an async generator of them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from harvester.config import Settings
from harvester.request import Request
from harvester.response import Response

if TYPE_CHECKING:
    from harvester.events import Events


class Spider:
    name: ClassVar[str] = ""
    start_urls: ClassVar[list[str] | tuple[str, ...]] = ()
    allowed_domains: ClassVar[list[str] | tuple[str, ...]] = ()
    item_key: ClassVar[tuple[str, ...]] = ()
    # harvester.toml keys for this spider's runs, over the file and under -s: {"fetch.delay": 1.0}
    custom_settings: ClassVar[Mapping[str, Any]] = {}
    settings: Settings | None = None  # the run's settings, set before start_requests()

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.logger = logging.getLogger(f"harvester.spider.{self.name or type(self).__name__}")

    def log(self, message: object, level: int = logging.DEBUG, **kwargs: Any) -> None:
        """Log `message` through `self.logger`, as Scrapy's ``Spider.log``."""
        self.logger.log(level, message, **kwargs)

    def start_requests(self) -> Iterable[Request] | AsyncIterator[Request]:
        start = getattr(type(self), "start", None)
        if callable(start):  # Scrapy 2.13's `async def start(self)`, yielding the first requests
            return start(self)
        return (Request(url, callback=self.parse) for url in self.start_urls)

    def parse(self, response: Response) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.parse is not defined")

    def subscribe(self, events: Events) -> None:
        """Called once before the run opens: subscribe to its events, `events.on(ItemScraped, self.count)`."""

    def closed(self, reason: str) -> None:
        """Called once when the run closes: `finished`, `interrupted`, `failed`, a limit or a CloseSpider reason."""

    def callback_for(self, request: Request) -> Any:
        """The bound method a request names (a callable, a method name, or `parse`).

        A name the spider lacks (a method renamed before a resume) raises
        AttributeError: the engine records it as one `spider` error.
        """
        return _resolve(self, request.callback) or self.parse

    def errback_for(self, request: Request) -> Any:
        return _resolve(self, request.errback)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _resolve(spider: Spider, callback: Any) -> Any:
    if callback is None or callable(callback):
        return callback
    method = getattr(spider, str(callback), None)
    if not callable(method):
        raise AttributeError(f"spider {spider.name!r} has no callback {callback!r}")
    return method

