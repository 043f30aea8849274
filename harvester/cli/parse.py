"""`harvester parse URL --spider S`: what one callback yields for a live page.

The page is fetched as the spider's crawl would fetch it, the callback
(`--callback`, default `parse`) runs once on the response, and the items it
yields are printed as JSON lines, then the requests it yields; nothing is
stored, and the requests are followed only with `--depth`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
from typing import Any

from harvester import loop
from harvester.cli.fetch import fetch_failed
from harvester.cli.help import command
from harvester.cli.options import add_spider_options
from harvester.cli.session import Outputs, Session, item_json
from harvester.exceptions import ConfigError, FetchError, HarvesterError
from harvester.request import Request
from harvester.urls import domain_allowed


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "parse",
        common,
        help="run one callback on a live page, print what it yields",
        description="Fetch URL as the spider's crawl would, run one callback on the response\n"
        "(--callback, default parse) and print the items it yields, one JSON object\n"
        "per line, then the requests (method, URL, callback). Nothing is stored; the\n"
        "requests are followed only with --depth N (each level printed in turn).\n"
        "Exit status 1 when the fetch of URL fails or its callback raises.",
        examples=(
            "harvester parse https://books.example/ --spider books",
            "harvester parse https://books.example/book/1 --spider books --callback parse_book",
            "harvester parse https://books.example/ --spider books -a category=poetry",
            """harvester parse https://books.example/p/2 --spider books -c parse_page --cb-kwargs '{"page": 2}'""",
            "harvester parse https://books.example/ --spider books --depth 2",
        ),
    )
    parser.add_argument("url", help="the page to fetch")
    parser.add_argument("--spider", required=True, metavar="S", help="the spider whose callback runs")
    parser.add_argument("-c", "--callback", metavar="C", help="the spider's method to run (default: parse)")
    parser.add_argument("--cb-kwargs", metavar="JSON", help="keyword arguments for the callback, a JSON object")
    parser.add_argument(
        "-d",
        "--depth",
        type=int,
        default=1,
        metavar="N",
        help="follow the requests yielded, each once, to depth N (default: 1, none)",
    )
    add_spider_options(parser)
    parser.set_defaults(handler=run)


def keyword_args(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"bad --cb-kwargs {text!r}: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"bad --cb-kwargs {text!r}: expected a JSON object")
    return value


def callback_name(request: Request) -> str:
    callback = request.callback
    return getattr(callback, "__name__", None) or (str(callback) if callback else "parse")


def run(args: argparse.Namespace) -> int:
    cb_kwargs = keyword_args(args.cb_kwargs)
    if args.depth < 1:
        raise ConfigError(f"bad --depth {args.depth}: at least 1")

    async def main() -> list[Outputs]:
        session = Session.from_args(args)
        try:
            if args.callback and not callable(getattr(session.spider, args.callback, None)):
                raise ConfigError(f"spider {session.spider.name!r} has no callback {args.callback!r}")
            levels = [await session.call(await session.fetch(args.url), args.callback, cb_kwargs)]
            seen = {Request(args.url).fingerprint}
            while len(levels) < args.depth:
                levels.append(await _next_level(session, levels[-1].requests, seen))
            return levels
        finally:
            await session.aclose()

    try:
        levels = loop.run(main())
    except FetchError as exc:
        return fetch_failed(exc, args.url)
    except HarvesterError:
        raise
    except Exception as exc:  # noqa: BLE001 - the spider's own bug: its traceback is what its author needs
        _callback_failed(exc)
        return 1
    for depth, outputs in enumerate(levels, 1):
        if args.depth > 1:
            print(f"# depth {depth}")
        _print(outputs)
    return 0


async def _next_level(session: Session, requests: list[Request], seen: set[str]) -> Outputs:
    """What the callbacks of `requests` yield, each request fetched once and only on allowed domains."""
    todo = []
    for request in requests:
        if request.fingerprint not in seen and domain_allowed(request.url, session.spider.allowed_domains):
            seen.add(request.fingerprint)
            todo.append(request)
    level = Outputs()
    results = await asyncio.gather(*(_one(session, request) for request in todo), return_exceptions=True)
    for request, result in zip(todo, results):
        if isinstance(result, FetchError):
            print(f"harvester: {request.url}: {result.kind}: {result}", file=sys.stderr)
        elif isinstance(result, BaseException):
            _callback_failed(result)
        else:
            level.items += result.items
            level.requests += result.requests
            level.others += result.others
    return level


async def _one(session: Session, request: Request) -> Outputs:
    return await session.call(await session.fetch(request))


def _callback_failed(exc: BaseException) -> None:
    traceback.print_exception(exc)
    print(f"harvester: error: the callback raised {type(exc).__name__}: {exc}", file=sys.stderr)


def _print(result: Outputs) -> None:
    print(f"# items ({len(result.items)})")
    for item in result.items:
        print(item_json(item))
    print(f"# requests ({len(result.requests)})")
    for request in result.requests:
        print(f"{request.method} {request.url} {callback_name(request)}")
    for other in result.others:
        print(f"# not a request or item: {other!r}", file=sys.stderr)
