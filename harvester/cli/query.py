"""`harvester query`: read the harvest database with SQL or filters."""

from __future__ import annotations

import argparse
from typing import Any

from harvester import query
from harvester.cli import formats
from harvester.cli.options import add_db_option, settings_from
from harvester.exceptions import QueryError
from harvester.storage.database import open_engine


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("query", parents=[common], help="read the harvest database")
    parser.add_argument("sql", nargs="?", help="an SQL statement; without it, items matching the filters")
    parser.add_argument("--spider", help="items of this spider")
    parser.add_argument("--run", type=int, help="items of this run id")
    parser.add_argument("--since", metavar="TIME", help="items stored at or after TIME (ISO date or time)")
    parser.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                        help="items whose data FIELD equals VALUE: the string, or the number or "
                             "true/false/null it spells (repeatable)")
    parser.add_argument("--changed", action="store_true",
                        help="items new or changed in the newest run of their spider (or of --run)")
    parser.add_argument("--format", choices=formats.FORMATS, default="table")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    filters = args.spider or args.run is not None or args.since or args.where or args.changed
    if args.sql and filters:
        raise QueryError("give either SQL or filters (--spider, --run, --since, --where, --changed), not both")
    engine = open_engine(settings_from(args).database_url(), must_exist=True)
    try:
        if args.sql:
            _, rows = query.run_sql(engine, args.sql)
        else:
            rows = query.find_items(engine, args.spider, args.run, args.since, args.where, args.changed)
        formats.write(rows, args.format)
    finally:
        engine.dispose()
    return 0
