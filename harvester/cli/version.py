"""`harvester version` and `harvester --version`: the installed Harvester's version."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata
from typing import Any

from harvester.cli.help import command

LIBRARIES = ("lxml", "httpx", "sqlalchemy", "alembic", "beautifulsoup4")


def package_version(package: str = "harvester") -> str:
    """The version of the distribution that installs `package`, whatever that distribution's name."""
    names = metadata.packages_distributions().get(package) or [package]
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown (not installed)"


class VersionAction(argparse.Action):
    """`--version`: prints `harvester X.Y.Z` and exits; looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print Harvester's version and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"harvester {package_version()}")
        parser.exit()


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "version",
        common,
        help="Harvester's version",
        description="Print Harvester's version; with -v also Python's, the platform's and the\n"
        "main libraries' versions (what a bug report needs).",
        examples=("harvester version", "harvester --version", "harvester version -v"),
    )
    parser.set_defaults(handler=run, anywhere=True)


def run(args: argparse.Namespace) -> int:
    print(f"harvester {package_version()}")
    if getattr(args, "verbose", False):
        width = max(map(len, LIBRARIES))
        for library in LIBRARIES:
            print(f"{library:<{width}} {package_version(library)}")
        print(f"{'python':<{width}} {sys.version.split()[0]}")
        print(f"{'platform':<{width}} {platform.platform()}")
    return 0
