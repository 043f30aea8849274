"""`harvester` (and `python -m harvester`): parses the command line and runs one command.

Errors a user can make (bad config, unknown spider, unreachable database, a
spider that fails to import, bad SQL, a command that needs a project run
outside one) print exactly one line to stderr and exit with status 2; they
never print a traceback. `-v`, `-q` and `--logfile` (before or after the
command) set up the log (`harvester.logs`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harvester import logs
from harvester.cli import (
    check,
    crawl,
    db,
    fetch,
    genspider,
    help,
    jobs,
    listing,
    parse,
    query,
    runs,
    runspider,
    shell,
    startproject,
    version,
)
from harvester.exceptions import HarvesterError
from harvester.project import CONFIG_NAME, require_config

COMMANDS = (
    crawl,
    listing,
    genspider,
    check,
    parse,
    query,
    db,
    jobs,
    startproject,
    runspider,
    fetch,
    shell,
    version,
    runs,
)
DB_COMMANDS = ("query", "db", "runs")  # need only a database: `--db URL` stands in for the project

EXAMPLES = (
    "harvester startproject shop && cd shop",
    "harvester crawl example -o items.jsonl",
    "harvester shell https://example.org/",
    "harvester runspider quotes.py -o quotes.json",
    'harvester query "select count(*) from items"',
)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"the project's {CONFIG_NAME} (default: the one here or in a folder above)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="more: one log line per response (status, URL, seconds, size), every traceback, debug messages",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="less: log only warnings and errors, no progress and no closing summary",
    )
    common.add_argument(
        "--logfile",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="write the log to FILE (appended; created 0600) instead of stderr",
    )
    top = argparse.ArgumentParser(
        prog="harvester",
        parents=[common],
        description="Crawl sites and harvest records into a SQL database.\n"
        f"Project commands run in a folder holding {CONFIG_NAME} (or below one), or with --config.",
        epilog=help.epilog(EXAMPLES) + "\n\n`harvester COMMAND --help` describes a command.",
        formatter_class=help.CommandsFormatter,
    )
    top.add_argument("--version", action=version.VersionAction)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(commands, common)
    help.describe(top)
    return top


def require_project(args: argparse.Namespace) -> None:
    """Stop, in one line, a command that needs a project when there is none here or above."""
    if getattr(args, "anywhere", False) or getattr(args, "config", None):
        return
    if args.command in DB_COMMANDS and getattr(args, "db", None):
        return
    require_config(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(_attached(list(sys.argv[1:] if argv is None else argv)))
    verbose, quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    if verbose and quiet:
        print("harvester: error: -v and -q cannot be used together", file=sys.stderr)
        return 2
    try:
        args.errors_seen = logs.configure(verbose, quiet, getattr(args, "logfile", None))
    except OSError as exc:
        print(f"harvester: error: cannot write the log to {args.logfile}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        require_project(args)
        return int(args.handler(args) or 0)
    except HarvesterError as exc:
        print(f"harvester: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harvester: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _attached(argv: list[str]) -> list[str]:
    """`-o -:json` as `-o=-:json`: argparse would take a value starting with `-` for an option."""
    for i, word in enumerate(argv[:-1]):
        if word in ("-o", "-O", "--output", "--overwrite-output") and argv[i + 1].startswith("-:"):
            return [*argv[:i], f"{word}={argv[i + 1]}", *_attached(argv[i + 2 :])]
        if word == "--":
            break
    return argv


if __name__ == "__main__":
    sys.exit(main())
