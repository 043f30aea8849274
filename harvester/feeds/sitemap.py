"""Response -> requests for sitemaps: `SitemapSpider`, after sitemaps.org's protocol.

`sitemap_urls` name sitemaps, sitemap indexes (plain or gzipped, told by
their magic bytes) or a robots.txt, whose `Sitemap:` lines are followed. Each
sitemap is parsed as it arrives, like any XML feed (entities never expanded);
a page URL goes to the callback of the first `sitemap_rules` pattern it
matches, and an index entry is followed when a `sitemap_follow` pattern
matches it. The protocol's limits hold per file: at most 50,000 URLs and
50 MB uncompressed. Only http(s) URLs are taken from a sitemap: a file:// (or
any other) URL found in one is never fetched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from protego import Protego

from harvester.exceptions import InvalidURL, ParseError
from harvester.feeds.body import feed_bytes, watch
from harvester.feeds.xml import iter_nodes
from harvester.request import Request
from harvester.response import Response
from harvester.spider import Spider
from harvester.urls import join

MAX_URLS = 50_000
MAX_BYTES = 50 * 1024 * 1024
MAX_ROBOTS = 500 * 1024
_ENTRY_TAGS = ("{*}url", "{*}sitemap")
_ROOTS = frozenset({"urlset", "sitemapindex"})
_XHTML = "{http://www.w3.org/1999/xhtml}link"

log = logging.getLogger("harvester.sitemap")

Pattern = str | re.Pattern[str]


class SitemapSpider(Spider):
    """Crawls the pages that sitemaps list, each to the callback its URL pattern names.

    Attributes:
        sitemap_urls: Sitemaps, sitemap indexes (plain or gzipped) or robots.txt URLs (whose
            `Sitemap:` lines are followed).
        sitemap_rules: Pairs of a regular expression (searched in the page URL) and the
            callback (a method name or callable) its pages go to; the first match wins.
        sitemap_follow: Regular expressions an index's entry must match to be followed.
        sitemap_alternate_links: Also follow the `xhtml:link` alternates of an entry.

    Example:
        ```python
        class Shop(SitemapSpider):
            name = "shop"
            sitemap_urls = ["https://shop.example/robots.txt"]
            sitemap_rules = [(r"/product/", "parse_product")]

            def parse_product(self, response):
                yield {"name": response.css("h1::text").get()}
        ```
    """

    sitemap_urls: ClassVar[Sequence[str]] = ()
    sitemap_rules: ClassVar[Sequence[tuple[Pattern, str | Callable[..., Any]]]] = (("", "parse"),)
    sitemap_follow: ClassVar[Sequence[Pattern]] = ("",)
    sitemap_alternate_links: ClassVar[bool] = False

    def start_requests(self) -> Iterable[Request]:
        """A streamed request for each of `sitemap_urls`."""
        for url in self.sitemap_urls:
            yield Request(url, callback=self._parse_sitemap, stream=True)

    def sitemap_filter(self, entries: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
        """Override to drop or change entries (dicts with `loc`, `lastmod`, ...) before they are used."""
        return entries

    async def _parse_sitemap(self, response: Response) -> AsyncIterator[Request]:
        # Bounded in time; read to its end (50 MB at most) even when the run stops, so a
        # resumed run has every page it lists.
        watch(response, self.settings, lambda: False)
        if urlsplit(response.url).path.endswith("/robots.txt"):
            for url in await _robots_sitemaps(response):
                yield Request(url, callback=self._parse_sitemap, stream=True)
            return
        rules = [(_compiled(pattern), callback) for pattern, callback in self.sitemap_rules]
        follow = [_compiled(pattern) for pattern in self.sitemap_follow]
        count = 0
        nodes = iter_nodes(response, _ENTRY_TAGS, cap=MAX_BYTES)
        try:
            async for node in nodes:
                if count == 0 and _local(node.getroottree().getroot().tag) not in _ROOTS:
                    raise ParseError(
                        f"not a sitemap: root element <{_local(node.getroottree().getroot().tag)}>", response.request
                    )
                count += 1
                if count > MAX_URLS:
                    raise ParseError(f"sitemap lists more than {MAX_URLS} URLs; the rest are ignored", response.request)
                for entry in self.sitemap_filter([_entry(node, response.url)]):
                    for request in self._requests_for(entry, _local(node.tag), rules, follow):
                        yield request
        finally:
            await nodes.aclose()
        if count == 0:
            raise ParseError("no <url> or <sitemap> entries: not a sitemap, or an empty one", response.request)

    def _requests_for(
        self,
        entry: dict[str, Any],
        kind: str,
        rules: list[tuple[re.Pattern[str], Any]],
        follow: list[re.Pattern[str]],
    ) -> Iterable[Request]:
        urls = [entry.get("loc", "")]
        if kind == "sitemap":
            for url in filter(_fetchable, urls):
                if any(pattern.search(url) for pattern in follow):
                    yield Request(url, callback=self._parse_sitemap, stream=True)
            return
        if self.sitemap_alternate_links:
            urls += entry.get("alternate", [])
        for url in filter(_fetchable, urls):
            for pattern, callback in rules:
                if pattern.search(url):
                    yield Request(url, callback=callback)
                    break


async def _robots_sitemaps(response: Response) -> list[str]:
    """The http(s) URLs of a robots.txt's `Sitemap:` lines (its first 500 KiB).

    A line that is not UTF-8 is left out, as Scrapy does: decoding it with
    replacement characters would make up a URL the site never named.
    """
    data = b""
    chunks = feed_bytes(response, what="robots.txt")
    async for chunk in chunks:
        data += chunk
        if len(data) >= MAX_ROBOTS:
            break
    await chunks.aclose()
    lines = []
    for line in data[:MAX_ROBOTS].splitlines():
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    rules = Protego.parse("\n".join(lines))
    return [url for url in (_resolved(response.url, u) for u in rules.sitemaps) if _fetchable(url)]


def _entry(node: Any, base: str) -> dict[str, Any]:
    """A sitemap entry as a dict: `loc`, `lastmod`, ... and `alternate` hrefs."""
    entry: dict[str, Any] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue
        if child.tag == _XHTML:
            if child.get("rel") == "alternate" and child.get("href"):
                entry.setdefault("alternate", []).append(_resolved(base, child.get("href")))
        elif not any(isinstance(grandchild.tag, str) for grandchild in child):
            entry[_local(child.tag)] = _text(child).strip()
    if entry.get("loc"):
        entry["loc"] = _resolved(base, entry["loc"])
    return entry


def _text(element: Any) -> str:
    """An element's own text. A reference to an entity the document declares (never expanded)
    is left out: `<loc>http://a/&xxe;</loc>` is `http://a/`, as Scrapy reads it."""
    return (element.text or "") + "".join(node.tail or "" for node in element)


def _resolved(base: str, reference: str) -> str:
    """`reference` joined to `base` as a browser would; "" (left out) when it does not parse."""
    try:
        return join(base, reference)
    except InvalidURL:
        if reference.strip():
            log.warning("sitemap URL ignored (it does not parse): %s", reference[:200])
        return ""


def _fetchable(url: str) -> bool:
    if url.startswith(("http://", "https://")):  # serialized by the WHATWG parser: scheme in lower case
        return True
    if url:
        log.warning("sitemap URL ignored (only http and https are followed): %s", url[:200])
    return False


def _compiled(pattern: Pattern) -> re.Pattern[str]:
    return re.compile(pattern) if isinstance(pattern, str) else pattern


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
