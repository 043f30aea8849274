"""`harvester runspider FILE.py`: a crawl of the one spider a file defines, no project needed.

It runs as `harvester crawl` does (same options, output and exit status) with
the file as the only spider module. Inside a project (a harvester.toml here or
above) the project's settings apply; elsewhere the defaults do, and the harvest
database is harvest.db in the current directory, where `-o FILE` (append) and
`-O FILE` (overwrite) go too.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harvester.cli import crawl
from harvester.cli.help import command
from harvester.cli.options import add_db_option, add_output_options, add_spider_options, toml_string
from harvester.project import spider_of_file


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "runspider",
        common,
        help="run the spider of one Python file, no project needed",
        description="Run the one spider FILE defines, as `harvester crawl` runs a project's spider.\n"
        "Outside a project the default settings apply and pages, items and errors go\n"
        "to harvest.db in the current directory (--db for another); inside one, the\n"
        "project's harvester.toml applies.",
        examples=(
            "harvester runspider quotes.py",
            "harvester runspider quotes.py -a tag=humor -o quotes.jsonl",
            "harvester runspider quotes.py -O quotes.csv",
            "harvester runspider quotes.py -s fetch.delay=1 --db sqlite:///quotes.db",
        ),
    )
    parser.add_argument("file", metavar="FILE.py", help="a Python file defining one Spider subclass")
    add_spider_options(parser)
    add_output_options(parser)
    add_db_option(parser)
    parser.set_defaults(handler=run, anywhere=True)


def run(args: argparse.Namespace) -> int:
    module, spider_cls = spider_of_file(Path(args.file))
    args.set = [*args.set, f"project.spiders=[{toml_string(module)}]"]
    args.spider = spider_cls.name
    return crawl.run(args)
