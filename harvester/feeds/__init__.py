"""Streaming feed spiders: records parsed while the bytes arrive, from any scheme."""

from harvester.feeds.csv import CSVFeedSpider
from harvester.feeds.json import JSONFeedSpider
from harvester.feeds.sitemap import SitemapSpider
from harvester.feeds.xml import XMLFeedSpider

__all__ = ["CSVFeedSpider", "JSONFeedSpider", "SitemapSpider", "XMLFeedSpider"]
