"""Harvester: a Scrapy-style crawler and data-harvesting pipeline.

Spiders and pipelines import only from here.
"""

import sys

# `import httpx` also imports httpx's command-line client (click, rich, pygments:
# about 4 MB per process) whenever those packages are installed, and falls back to
# a stub `httpx.main` when that import fails. Harvester never runs the client, so
# its module is blocked while httpx loads. This relies on httpx internals (the
# module name, the fallback; upstream: encode/httpx#3547); when they change, httpx
# loads as usual. Only `httpx.main` in this process becomes the stub.
if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import httpx  # noqa: F401
    except ImportError:
        pass  # an httpx that needs its client module after all: imported below, unblocked
    finally:
        del sys.modules["httpx._main"]

from harvester.crawlspider import CrawlSpider, Rule
from harvester.exceptions import CloseSpider, DropItem, HarvesterError, ParseError
from harvester.feeds import CSVFeedSpider, JSONFeedSpider, SitemapSpider, XMLFeedSpider
from harvester.linkextractor import Link, LinkExtractor
from harvester.request import FormRequest, Request
from harvester.response import Response
from harvester.selector import Selector, SelectorList
from harvester.spider import Spider
from harvester.events import (ErrorRecorded, Events, ItemDropped, ItemScraped, RequestFiltered, RequestScheduled,
                              ResponseReceived, RunClosed, RunOpened)

__all__ = [
    "CSVFeedSpider",
    "CloseSpider",
    "CrawlSpider",
    "DropItem",
    "ErrorRecorded",
    "Events",
    "FormRequest",
    "HarvesterError",
    "ItemDropped",
    "ItemScraped",
    "JSONFeedSpider",
    "Link",
    "LinkExtractor",
    "ParseError",
    "Request",
    "RequestFiltered",
    "RequestScheduled",
    "Response",
    "ResponseReceived",
    "Rule",
    "RunClosed",
    "RunOpened",
    "Selector",
    "SelectorList",
    "SitemapSpider",
    "Spider",
    "XMLFeedSpider",
]
