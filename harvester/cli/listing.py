"""`harvester list`: the project's spiders, one name per line."""

from __future__ import annotations

import argparse
from typing import Any

from harvester.cli.options import settings_from
from harvester.project import find_spiders


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("list", parents=[common], help="the spiders found, one per line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for name in sorted(find_spiders(settings_from(args))):
        print(name)
    return 0
