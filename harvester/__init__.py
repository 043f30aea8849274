"""Harvester: a Scrapy-style crawler and data-harvesting pipeline.

Spiders and pipelines import only from here.
"""

from harvester.exceptions import DropItem, HarvesterError
from harvester.request import FormRequest, Request
from harvester.response import Response
from harvester.selector import Selector, SelectorList
from harvester.spider import Spider

__all__ = [
    "DropItem",
    "FormRequest",
    "HarvesterError",
    "Request",
    "Response",
    "Selector",
    "SelectorList",
    "Spider",
]
