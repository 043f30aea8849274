"""`harvester query`: read the harvest database with SQL or filters.

The database is opened read-only (`harvester.read_only`): a statement that would
write is refused by the database itself, in one line with exit status 2, unless
`--write` is given.
"""

from __future__ import annotations

import argparse
from typing import Any

from harvester import query
from harvester.cli import formats
from harvester.cli.options import add_db_option, settings_from
from harvester.exceptions import QueryError


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("query", parents=[common], help="read the harvest database")
    parser.add_argument("sql", nargs="?", help="an SQL statement; without it, items matching the filters")
    parser.add_argument("--spider", help="items of this spider")
    parser.add_argument("--run", type=int, help="items of this run id")
    parser.add_argument("--since", metavar="TIME", help="items stored at or after TIME (ISO date or time)")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="items whose data FIELD equals VALUE: the string, or the number or true/false/null it spells (repeatable)",
    )
    parser.add_argument(
        "--changed", action="store_true", help="items new or changed in the newest run of their spider (or of --run)"
    )
    parser.add_argument("--format", choices=formats.FORMATS, default="table")
    parser.add_argument("--limit", type=_count, metavar="N", help="print at most N rows")
    parser.add_argument(
        "--write", action="store_true", help="let the SQL change the database (otherwise it is opened read-only)"
    )
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    filters = args.spider or args.run is not None or args.since or args.where or args.changed
    if args.sql and filters:
        raise QueryError("give either SQL or filters (--spider, --run, --since, --where, --changed), not both")
    if args.write and not args.sql:
        raise QueryError("--write goes with SQL; the filters only read")
    engine = query.open_database(settings_from(args).database_url(), write=args.write)
    try:
        if args.sql:
            columns, rows = query.run_sql(engine, args.sql, limit=args.limit)
        else:
            columns = list(query.ITEM_COLUMNS)
            rows = query.find_items(
                engine, args.spider, args.run, args.since, args.where, args.changed, limit=args.limit
            )
        formats.write(rows, args.format, header=columns)
    finally:
        engine.dispose()
    return 0


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of rows, not {value!r}")
    return count
