"""`harvester crawl SPIDER`: one run of a spider into the harvest database."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harvester import loop
from harvester.cli.options import add_db_option, settings_from
from harvester.crawler import crawl
from harvester.exceptions import ConfigError
from harvester.project import get_spider
from harvester.storage.database import safe_url

EXIT = {"finished": 0, "interrupted": 130, "failed": 1}


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("crawl", parents=[common], help="one run of a spider")
    parser.add_argument("spider", help="the spider's name (see `harvester list`)")
    parser.add_argument("-a", dest="args", action="append", default=[], metavar="NAME=VALUE",
                        help="set a spider attribute (repeatable)")
    parser.add_argument("-s", dest="set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a harvester.toml setting for this run (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the newest unfinished run of this spider")
    parser.add_argument("-o", dest="output", metavar="FILE", help="also write items to FILE (.jsonl, .json, .csv)")
    add_db_option(parser)
    parser.set_defaults(handler=run)
    worker = commands.add_parser(
        "worker", parents=[common], help="one of several processes sharing a crawl (a run's frontier)")
    worker.add_argument("spider", help="the spider's name (see `harvester list`)")
    worker.add_argument("-a", dest="args", action="append", default=[], metavar="NAME=VALUE",
                        help="set a spider attribute (repeatable)")
    worker.add_argument("-s", dest="set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a harvester.toml setting (repeatable)")
    add_db_option(worker)
    worker.set_defaults(handler=run)


def spider_args(pairs: list[str]) -> dict[str, str]:
    args = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(f"bad -a {pair!r}: expected name=value")
        args[name.strip()] = value
    return args


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    spider_cls = get_spider(settings, args.spider)
    worker = args.command == "worker"
    result = loop.run(
        crawl(settings, spider_cls, spider_args(args.args), export=getattr(args, "output", None),
              handle_signals=True, resume=getattr(args, "resume", False), worker=worker)
    )
    reason = result.stats.close_reason
    why = f" ({reason})" if reason and reason != result.status else ""  # closed by a limit or CloseSpider
    print(f"{spider_cls.name}: run {result.id} {result.status}{why}: {result.stats.summary()}")
    if result.failure:
        print(f"harvester: error: run {result.id} failed: {result.failure}", file=sys.stderr)
    output = getattr(args, "output", None)
    print(f"stored in {safe_url(settings.database_url())}" + (f" and {output}" if output else ""))
    return EXIT.get(result.status, 1)
