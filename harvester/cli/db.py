"""`harvester db upgrade|current`: Alembic migrations of the harvest database."""

from __future__ import annotations

import argparse
from typing import Any

from harvester.cli.options import add_db_option, settings_from
from harvester.storage import migrate
from harvester.storage.database import open_engine


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("db", parents=[common], help="migrations of the harvest database")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("upgrade", "bring the database to the newest revision"),
        ("current", "print the database's revision"),
    ):
        action = actions.add_parser(name, parents=[common], help=text)
        add_db_option(action)
        action.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = open_engine(settings_from(args).database_url())
    try:
        if args.action == "upgrade":
            migrate.upgrade(engine)
        with engine.connect() as connection:
            revision = migrate.current(connection)
        newest = migrate.head()
        state = "newest" if revision == newest else f"newest is {newest}"
        print(f"{revision or 'empty (no revision)'} ({state})")
    finally:
        engine.dispose()
    return 0
