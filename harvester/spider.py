"""The Spider base class: where requests start and where responses become items.

A callback may return a Request, an item (dict or dataclass), None or an
iterable of them, or be a generator or an async generator of them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from harvester.config import Settings
from harvester.exceptions import InvalidURL
from harvester.request import Request
from harvester.response import Response

if TYPE_CHECKING:
    from harvester.events import Events


class Spider:
    """A spider: where a crawl starts, and how each response becomes items and more requests.

    Subclass it, give it a `name` (what `harvester crawl NAME` runs) and `start_urls`,
    and write `parse(response)`; a callback returns or yields `Request`s and items
    (dicts or dataclass instances), or is an async generator of them.

    Attributes:
        name: The spider's name, unique in the project.
        start_urls: The URLs the run starts from (`start_requests()` turns each into a
            request for `parse`); the operator's `file://` trees are taken from them too.
        allowed_domains: Hosts (and their subdomains) whose links are followed; others
            are filtered as off-site. Empty: every host.
        item_key: Field names that identify an item across runs (`("sku",)`): a stored
            item with the same key is updated in place, its history kept.
        custom_settings: harvester.toml keys for this spider's runs, `{"fetch.delay": 1.0}`
            (Scrapy's names with a counterpart too), over the file and under `-s`.
        settings: The run's settings, set before `start_requests()` runs.

    `-a key=value` on the command line sets an attribute before the run starts.

    Example:
        ```python
        from harvester import Spider

        class Books(Spider):
            name = "books"
            start_urls = ["https://books.example/"]
            allowed_domains = ["books.example"]

            def parse(self, response):
                for link in response.css("article a::attr(href)").getall():
                    yield response.follow(link, callback=self.parse_book)

            def parse_book(self, response):
                yield {"title": response.css("h1::text").get()}
        ```
    """

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

    def start_requests(self) -> Iterable[Request | InvalidURL] | AsyncIterator[Request]:
        """The run's first requests: those of an `async def start()` if the spider has one
        (Scrapy 2.13's form), else a GET of each of `start_urls` for `parse`.

        Override it to start otherwise (a login form, requests with headers); it may be a
        generator or an async generator. It runs once per run, not again on `--resume`.
        A start URL that does not parse (`"example"`, no scheme) is yielded as its
        `InvalidURL`: the engine records it as one `url` error and the other start URLs go on.
        """
        start = getattr(type(self), "start", None)
        if callable(start):  # Scrapy 2.13's `async def start(self)`, yielding the first requests
            started: AsyncIterator[Request] = start(self)
            return started
        return _requests_for(self.start_urls, self.parse)

    def parse(self, response: Response) -> Any:
        """The default callback: what to take from `response` (items) and where to go next
        (requests). Every spider that uses `start_urls` defines it."""
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
        """The bound method a request names as its `errback` (called with the failure), or None."""
        return _resolve(self, request.errback)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _requests_for(urls: Iterable[str], callback: Any) -> Iterator[Request | InvalidURL]:
    """A GET of each URL for `callback`; a URL that does not parse is yielded as its error, so
    one bad start URL does not end the generator and lose the URLs after it."""
    for url in urls:
        try:
            yield Request(url, callback=callback)
        except InvalidURL as exc:
            yield exc


def _resolve(spider: Spider, callback: Any) -> Any:
    if callback is None or callable(callback):
        return callback
    method = getattr(spider, str(callback), None)
    if not callable(method):
        raise AttributeError(f"spider {spider.name!r} has no callback {callback!r}")
    return method
