"""What each command's `--help` says: a description of what it does and examples.

New commands build their parser with `command()`. The older commands build
theirs in their own modules; `describe()` gives each of them (and their
actions, such as `db upgrade`) the description and examples held in `TEXTS`,
unless the module gave its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


class CommandsFormatter(argparse.RawDescriptionHelpFormatter):
    """The top-level help: descriptions as written, each command's summary on its own line
    (argparse sizes the column without the commands' extra indent, so `startproject` wrapped)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)
        self._action_max_length = len("    startproject")


def epilog(examples: Sequence[str]) -> str:
    """An "examples:" block, one command line per line."""
    return "examples:\n" + "\n".join(f"  {line}" for line in examples)


def command(
    commands: Any,
    name: str,
    common: argparse.ArgumentParser,
    *,
    help: str,
    description: str,
    examples: Sequence[str],
) -> argparse.ArgumentParser:
    """A subcommand's parser whose `--help` shows `description` and `examples` as written."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        parents=[common],
        help=help,
        description=description,
        epilog=epilog(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def describe(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Give every subcommand under `parser` that has no description its text from `TEXTS`."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            key = f"{path} {name}".strip()
            if sub.description is None and key in TEXTS:
                description, examples = TEXTS[key]
                sub.description, sub.epilog = description, epilog(examples)
                sub.formatter_class = argparse.RawDescriptionHelpFormatter
            describe(sub, key)


TEXTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "crawl": (
        "Run a spider of the project once. Pages, items and errors go to the harvest\n"
        "database ([storage].url, or --db); -o also writes the items to a file.\n"
        "The first Ctrl-C finishes the requests in flight and marks the run interrupted;\n"
        "--resume continues it. Exit status: 0 finished, 130 interrupted, 1 failed,\n"
        "2 a mistake before the run (unknown spider, bad config).",
        (
            "harvester crawl books",
            "harvester crawl books -a category=poetry -s fetch.delay=1 -o books.jsonl",
            "harvester crawl books --resume",
        ),
    ),
    "worker": (
        "One of several processes sharing one crawl (on PostgreSQL): the first starts\n"
        "the run, the others join the newest unfinished run of the spider; each exits\n"
        "when the frontier is drained.",
        ("harvester worker books --db postgresql+psycopg://bot@dbhost/harvest",),
    ),
    "list": (
        "Print the names of the project's spiders, one per line.",
        ("harvester list",),
    ),
    "query": (
        "Read the harvest database: run SQL, or list the items matching filters.\n"
        "The database is opened read-only: SQL that writes is refused unless --write.\n"
        "Formats: table (default), json (one array), jsonl (one object per line), csv.",
        (
            'harvester query "select count(*) from items"',
            "harvester query --spider books --where category=Fiction --format csv --limit 10",
            "harvester query --changed --spider books",
            "harvester query --db sqlite:///elsewhere.db --run 3 --format jsonl",
        ),
    ),
    "db": (
        "Alembic migrations of the harvest database: `upgrade` brings it to the newest\n"
        "revision, `current` prints its revision.",
        ("harvester db upgrade", "harvester db current --db sqlite:///harvest.db"),
    ),
    "db upgrade": (
        "Bring the harvest database to the newest revision (created if missing).",
        ("harvester db upgrade", "harvester db upgrade --db postgresql+psycopg://bot@dbhost/harvest"),
    ),
    "db current": (
        "Print the harvest database's revision and whether it is the newest.",
        ("harvester db current",),
    ),
    "jobs": (
        "The scheduled jobs of harvester.toml ([jobs.NAME]): list them, run one now,\n"
        "or serve them (run each when due, until stopped).",
        ("harvester jobs list", "harvester jobs run nightly-books", "harvester jobs serve"),
    ),
    "jobs list": (
        "Each job with its spider, schedule, last run and next run.",
        ("harvester jobs list",),
    ),
    "jobs run": (
        "One run of a job now, with its spider, arguments and settings; it resumes the\n"
        "job's unfinished run if there is one.",
        ("harvester jobs run nightly-books", "harvester jobs run nightly-books -s fetch.delay=2"),
    ),
    "jobs serve": (
        "The scheduler: runs each job when due until SIGTERM or Ctrl-C. A run missed\n"
        "while no scheduler ran runs once at start.",
        ("harvester jobs serve",),
    ),
}
