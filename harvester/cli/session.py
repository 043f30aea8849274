"""What `fetch`, `shell`, `parse` and `check` share: a crawl's fetch path and callbacks, no run.

A `Session` holds the settings, a spider and the `Fetcher` a crawl builds
(robots.txt, redirects, retries, throttling, cookies in one jar, auth per
origin), so a page fetched here is fetched as a crawl of that spider would
fetch it. Nothing is written to the harvest database. `BlockingSession` runs
one on an event loop in a thread, for the interactive shell.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harvester import schemes
from harvester.callbacks import outputs
from harvester.cli.crawl import spider_args
from harvester.cli.options import settings_from
from harvester.config import Settings
from harvester.credentials import Credentials
from harvester.exceptions import ConfigError, HttpError, SpiderLoadError
from harvester.fetching import Fetcher
from harvester.items import as_dict, is_item
from harvester.project import get_spider, require_config
from harvester.request import Request
from harvester.response import Response
from harvester.spider import Spider

T = TypeVar("T")


class DefaultSpider(Spider):
    """The spider of a session given no --spider: `parse` yields nothing."""

    name = "default"

    def parse(self, response: Response) -> None:
        return None


def spider_from(args: argparse.Namespace, settings: Settings) -> Spider:
    """The spider `--spider` names (with `-a` attributes), or the default one."""
    name = getattr(args, "spider", None)
    if name and not getattr(args, "config", None):
        require_config(f"{args.command} --spider")
    cls = get_spider(settings, name) if name else DefaultSpider
    return make_spider(cls, spider_args(getattr(args, "args", None) or []), settings)


def make_spider(cls: type[Spider], attributes: dict[str, str], settings: Settings) -> Spider:
    """An instance of `cls` with `-a` attributes, as a crawl makes it; one line if it fails."""
    try:
        spider = cls(**attributes)
    except Exception as exc:  # noqa: BLE001 - the spider's own __init__: one clear line
        raise SpiderLoadError(f"spider {cls.name!r} failed to start: {type(exc).__name__}: {exc}") from None
    spider.settings = settings
    return spider


def as_url(target: str) -> str:
    """A URL as a user types it: an existing local file becomes file://, a bare host http://."""
    if "://" in target or ":" in target and schemes.current().of(target) is not None:  # data:...
        return target
    path = Path(target)
    if path.exists():
        return path.resolve().as_uri()
    return f"http://{target}"


def as_request(target: str | Request) -> Request:
    try:
        return target if isinstance(target, Request) else Request(as_url(target))
    except ValueError as exc:
        raise ConfigError(f"bad URL {target!r}: {exc}") from None


@dataclass
class Outputs:
    """What one callback produced: items (as dicts) and requests, in order."""

    items: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    others: list[Any] = field(default_factory=list)  # neither: the engine records each as an error


class Session:
    def __init__(self, settings: Settings, spider: Spider) -> None:
        self.settings = settings
        self.spider = spider
        credentials = Credentials(settings)
        self.fetcher = Fetcher(
            settings, schemes.for_spider(type(spider)).open(settings, credentials), credentials=credentials
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Session:
        settings = settings_from(args)
        return cls(settings, spider_from(args, settings))

    async def fetch(self, target: str | Request) -> Response:
        """The response to a URL or request, its body read (raises `FetchError` as a crawl records it)."""
        request = as_request(target)
        response = await self.fetcher(request)
        if response.streamed:
            response.body = b"".join([chunk async for chunk in response.aiter_bytes()])
            response.streamed = False
        return response

    async def call(self, response: Response, callback: Any = None, cb_kwargs: dict[str, Any] | None = None) -> Outputs:
        """Run `callback` (a method name, default: the request's, else `parse`) on `response`."""
        if response.status >= 400:
            raise HttpError(f"HTTP {response.status} at {response.url}", response.request, response.status)
        request = response.request or Request(response.url)
        if callback is not None:
            request = request.replace(callback=callback)
        method = self.spider.callback_for(request)
        result = Outputs()
        async for output in outputs(method(response, **{**request.cb_kwargs, **(cb_kwargs or {})})):
            if isinstance(output, Request):
                result.requests.append(output)
            elif is_item(output):
                result.items.append(as_dict(output))
            else:
                result.others.append(output)
        return result

    async def aclose(self) -> None:
        await self.fetcher.aclose()


def item_json(item: dict[str, Any]) -> str:
    return json.dumps(item, ensure_ascii=False, default=str)


class BlockingSession:
    """A session on an event loop of its own thread, driven by plain calls (the shell's)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="harvester-shell", daemon=True)
        self._thread.start()
        self.session = self.wait(self._open(args))

    async def _open(self, args: argparse.Namespace) -> Session:
        return Session.from_args(args)  # the fetcher's clients belong to this loop

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def fetch(self, target: str | Request) -> Response:
        return self.wait(self.session.fetch(target))

    def close(self) -> None:
        self.wait(self.session.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
