"""Harvester: a Scrapy-style crawler and data-harvesting pipeline.

Spiders and pipelines import only from here.
"""

from harvester.crawlspider import CrawlSpider, Rule
from harvester.exceptions import DropItem, HarvesterError, ParseError
from harvester.feeds import CSVFeedSpider, JSONFeedSpider, SitemapSpider, XMLFeedSpider
from harvester.linkextractor import Link, LinkExtractor
from harvester.request import FormRequest, Request
from harvester.response import Response
from harvester.selector import Selector, SelectorList
from harvester.spider import Spider

__all__ = [
    "CSVFeedSpider",
    "CrawlSpider",
    "DropItem",
    "FormRequest",
    "HarvesterError",
    "JSONFeedSpider",
    "Link",
    "LinkExtractor",
    "ParseError",
    "Request",
    "Response",
    "Rule",
    "Selector",
    "SelectorList",
    "SitemapSpider",
    "Spider",
    "XMLFeedSpider",
]
