"""Command-line pieces several commands share: settings from --config, -s and --db, and
the options that set a spider's attributes and a run's settings. `--db` takes a
database URL or an SQLite file's path."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

from harvester import config
from harvester.config import Settings
from harvester.project import find_config

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def settings_from(args: argparse.Namespace, extra: Sequence[str] = ()) -> Settings:
    """The settings a command runs with: `--config`, else the harvester.toml of the project
    holding the current directory (here or above), else the defaults; then `-s`, `--db` and
    `extra` overrides (`section.key=value`)."""
    overrides = list(getattr(args, "set", None) or [])
    db = getattr(args, "db", None)
    if db:
        overrides.append(f"storage.url={toml_string(database_url(db))}")
    overrides.extend(extra)
    return config.load(getattr(args, "config", None) or find_config(), overrides)


def database_url(value: str) -> str:
    """`--db VALUE` as a database URL: a URL as given; a plain path (`harvest.db`,
    `/tmp/x.db`) is that SQLite file, a relative one from the current directory."""
    if _URL.match(value):
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def toml_string(value: str) -> str:
    """`value` as a TOML basic string, for a `section.key=value` override."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL|PATH",
                        help="database URL, or an SQLite file's path, instead of [storage].url")


def add_spider_options(parser: argparse.ArgumentParser) -> None:
    """`-a NAME=VALUE` (a spider attribute) and `-s SECTION.KEY=VALUE` (a setting), repeatable."""
    parser.add_argument("-a", dest="args", action="append", default=[], metavar="NAME=VALUE",
                        help="set a spider attribute (repeatable)")
    parser.add_argument("-s", dest="set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a harvester.toml setting (repeatable)")

