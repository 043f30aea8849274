"""Spider callback step for rule-driven crawls: `CrawlSpider` and `Rule`, in Scrapy's shapes.

Each page's links are matched against `rules` in order; the first rule whose
`LinkExtractor` accepts a link claims it. The request for that link names the
rule by its index (in `cb_kwargs`, so it survives a resumed run); its response
goes to the rule's callback, and its links are followed when the rule says so
(by default, when it has no callback). Start URLs are followed by every rule
after `parse_start_url(response)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, ClassVar

from harvester.callbacks import outputs
from harvester.linkextractor import Link, LinkExtractor
from harvester.request import Request
from harvester.response import Response
from harvester.spider import Spider

_RULE = "_rule"  # the cb_kwargs key naming a request's rule

Hook = str | Callable[..., Any] | None


class Rule:
    """Which links a `CrawlSpider` follows, and what it does with their pages.

    Args:
        link_extractor: Picks the links of each page this rule claims (default: every link).
        callback: The method (or its name) called with each claimed page's response; it yields
            items and requests as `parse` does.
        cb_kwargs: Keyword arguments passed to `callback`.
        follow: Whether the claimed pages' own links are matched against the rules again;
            default: `True` when there is no callback, `False` when there is one.
        process_links: Called with the list of links the rule claimed on a page; returns the
            links to follow (filter, reorder or rewrite them).
        process_request: Called as `process_request(request, response)` for each request; returns
            it (changed or not), or `None` to drop it.
        errback: The method (or its name) called when a claimed page's request fails.

    Example:
        ```python
        rules = (
            Rule(LinkExtractor(allow=r"/category/")),                   # followed, no callback
            Rule(LinkExtractor(allow=r"/book/\\d+"), callback="parse_book"),
        )
        ```
    """

    def __init__(
        self,
        link_extractor: LinkExtractor | None = None,
        callback: Hook = None,
        cb_kwargs: dict[str, Any] | None = None,
        follow: bool | None = None,
        process_links: Hook = None,
        process_request: Hook = None,
        errback: Hook = None,
    ) -> None:
        self.link_extractor = link_extractor or LinkExtractor()
        self.callback = callback
        self.cb_kwargs = dict(cb_kwargs or {})
        self.follow = follow if follow is not None else callback is None
        self.process_links = process_links
        self.process_request = process_request
        self.errback = errback

    def __repr__(self) -> str:
        return f"<Rule callback={self.callback!r} follow={self.follow}>"


class CrawlSpider(Spider):
    """A spider that follows links by `rules` rather than by code in `parse`.

    Each page's links are matched against `rules` in order; the first rule whose
    `LinkExtractor` accepts a link claims it, and that rule's callback gets its page.
    Do not override `parse`: it applies the rules. Start pages go to
    `parse_start_url` first, then their links are matched.

    Example:
        ```python
        from harvester import CrawlSpider, LinkExtractor, Rule

        class Books(CrawlSpider):
            name = "books"
            start_urls = ["https://books.example/"]
            allowed_domains = ["books.example"]
            rules = (
                Rule(LinkExtractor(allow=r"/catalogue/page-\\d+")),
                Rule(LinkExtractor(restrict_css="article.product_pod h3"), callback="parse_book"),
            )

            def parse_book(self, response):
                yield {"title": response.css("h1::text").get()}
        ```
    """

    rules: ClassVar[Sequence[Rule]] = ()

    def parse(self, response: Response) -> AsyncIterator[Any]:
        """Start pages: `parse_start_url`'s outputs, then the links every rule claims."""
        return self._crawl(response, self.parse_start_url, {}, follow=True)

    def parse_start_url(self, response: Response) -> Any:
        """Override to yield items or requests from the start pages too."""
        return None

    def _rule_callback(self, response: Response, **cb_kwargs: Any) -> AsyncIterator[Any]:
        rule = self.rules[cb_kwargs.pop(_RULE)]
        return self._crawl(response, self._hook(rule.callback), cb_kwargs, rule.follow)

    async def _crawl(
        self,
        response: Response,
        callback: Callable[..., Any] | None,
        cb_kwargs: dict[str, Any],
        follow: bool,
    ) -> AsyncIterator[Any]:
        if callback is not None:
            async for output in outputs(callback(response, **cb_kwargs)):
                yield output
        if follow:
            for request in self._requests_to_follow(response):
                yield request

    def _requests_to_follow(self, response: Response) -> Iterable[Request]:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            links: Iterable[Link] = [
                link for link in rule.link_extractor.extract_links(response) if link.url not in seen
            ]
            process_links = self._hook(rule.process_links)
            if process_links is not None:
                links = list(process_links(links))
            for link in links:
                seen.add(link.url)
                request: Request | None = Request(
                    link.url,
                    callback=self._rule_callback,
                    cb_kwargs={_RULE: index, **rule.cb_kwargs},
                    errback=rule.errback,
                )
                process_request = self._hook(rule.process_request)
                if process_request is not None:
                    request = process_request(request, response)
                if request is not None:
                    yield request

    def _hook(self, hook: Hook) -> Callable[..., Any] | None:
        if hook is None or callable(hook):
            return hook
        method: Callable[..., Any] | None = getattr(self, hook, None)
        if not callable(method):
            raise AttributeError(f"spider {self.name!r} has no method {hook!r} (named in its rules)")
        return method
