"""`harvester` (and `python -m harvester`): parses the command line and runs one command.

Errors a user can make (bad config, unknown spider, unreachable database, a
spider that fails to import, bad SQL) print exactly one line to stderr and
exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from harvester.cli import crawl, db, genspider, jobs, listing, query
from harvester.exceptions import HarvesterError

COMMANDS = (crawl, listing, genspider, query, db, jobs)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="the project's harvester.toml (default: ./harvester.toml)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging")
    top = argparse.ArgumentParser(
        prog="harvester", parents=[common],
        description="Crawl sites and harvest records into a SQL database.",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(commands, common)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.handler(args) or 0)
    except HarvesterError as exc:
        print(f"harvester: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harvester: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
