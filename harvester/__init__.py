"""Harvester: a Scrapy-style crawler and data-harvesting pipeline.

Spiders and pipelines import only from here.
"""

import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path

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
from harvester.events import (
    ErrorRecorded,
    Events,
    ItemDropped,
    ItemScraped,
    RequestFiltered,
    RequestScheduled,
    ResponseReceived,
    RunClosed,
    RunOpened,
)
from harvester.exceptions import CloseSpider, DropItem, ErrorKind, HarvesterError, ParseError
from harvester.feeds import CSVFeedSpider, JSONFeedSpider, SitemapSpider, XMLFeedSpider
from harvester.linkextractor import Link, LinkExtractor
from harvester.pipeline import Pipeline, RunContext
from harvester.request import FormRequest, Request
from harvester.response import Response
from harvester.run import RunStatus
from harvester.selector import Selector, SelectorList
from harvester.spider import Spider

__all__ = [
    "CSVFeedSpider",
    "CloseSpider",
    "CrawlSpider",
    "DropItem",
    "ErrorKind",
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
    "Pipeline",
    "Request",
    "RequestFiltered",
    "RequestScheduled",
    "Response",
    "ResponseReceived",
    "Rule",
    "RunClosed",
    "RunContext",
    "RunOpened",
    "RunStatus",
    "Selector",
    "SelectorList",
    "SitemapSpider",
    "Spider",
    "XMLFeedSpider",
]


class _CheckoutFolders(MetaPathFinder):
    """`harvester.pipelines` and `harvester.migrations` when Harvester runs from its repository.

    The repository keeps the built-in pipelines and the migrations in its top-level
    `pipelines/` and `migrations/` folders; an install (wheel or editable) places them inside
    this package (pyproject.toml's package-dir). Run from a checkout with `PYTHONPATH=<repo>`,
    this package has no such subfolders, and this finder gives those two names, and only
    them, the repository's folders; it adds no top-level name.
    """

    def __init__(self, folders: dict[str, Path]) -> None:
        self.folders = folders

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        folder = self.folders.get(fullname)
        if folder is None:
            return None
        return spec_from_file_location(fullname, folder / "__init__.py", submodule_search_locations=[str(folder)])


def _map_checkout_folders() -> None:
    here = Path(__file__).resolve().parent
    folders = {
        f"harvester.{name}": here.parent / name
        for name in ("pipelines", "migrations")
        if not (here / name).is_dir() and (here.parent / name / "__init__.py").is_file()
    }
    if folders and not any(isinstance(finder, _CheckoutFolders) for finder in sys.meta_path):
        # first: an editable install's finder maps these names to *its* checkout, not this one
        sys.meta_path.insert(0, _CheckoutFolders(folders))


_map_checkout_folders()
