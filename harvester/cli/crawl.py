"""`harvester crawl SPIDER`: one run of a spider into the harvest database.

Exit status (`harvester.cli.closing.EXIT`): 0 when the run finished and fetched a page (some failed
requests are fine: they are recorded), 1 when it failed (its database) or
fetched nothing at all (errors, and no response below 400),
2 for a user mistake before it started, 130 when it was interrupted.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harvester import loop
from harvester.cli.closing import close_run
from harvester.cli.options import add_db_option, add_output_options, add_spider_options, export_of, settings_from
from harvester.crawler import crawl
from harvester.exceptions import ConfigError
from harvester.project import get_spider
from harvester.storage.database import safe_url


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("crawl", parents=[common], help="one run of a spider")
    parser.add_argument("spider", help="the spider's name (see `harvester list`)")
    add_spider_options(parser)
    parser.add_argument("--resume", action="store_true", help="continue the newest unfinished run of this spider")
    add_output_options(parser)
    add_db_option(parser)
    parser.set_defaults(handler=run)
    worker = commands.add_parser(
        "worker", parents=[common], help="one of several processes sharing a crawl (a run's frontier)"
    )
    worker.add_argument("spider", help="the spider's name (see `harvester list`)")
    add_spider_options(worker)
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
    export = export_of(args)
    result = loop.run(
        crawl(
            settings,
            spider_cls,
            spider_args(args.args),
            export=export,  # type: ignore[arg-type]
            handle_signals=True,
            resume=getattr(args, "resume", False),
            worker=worker,
        )
    )
    summary_out = sys.stderr if export is not None and export.path is None else sys.stdout  # -o -: items only
    stored = f"stored in {safe_url(settings.database_url())}" + (f" and {export}" if export else "")
    return close_run(args, result, spider_cls.name, stored, summary_out)
