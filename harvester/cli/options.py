"""Command-line pieces several commands share: settings from --config, -s and --db, and
the options that set a spider's attributes and a run's settings.

`-o FILE` appends items to FILE and `-O FILE` overwrites it (`harvester.exporters`).
`-s` takes a harvester.toml key (`fetch.delay=1`) or, as a Scrapy user types it, the
name of a Scrapy setting with a Harvester counterpart (`DOWNLOAD_DELAY=1`, the table
in `harvester.scrapy_settings`). `--db` takes a database URL or an SQLite file's path.
"""

from __future__ import annotations

import argparse
import difflib
import re
import typing
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from harvester import config
from harvester.config import Settings
from harvester.exceptions import ConfigError
from harvester.exporters import Export
from harvester.project import find_config
from harvester.scrapy_settings import COUNTERPARTS, harvester_key

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_BOOLEANS = {"true": "true", "1": "true", "false": "false", "0": "false"}  # Scrapy's getbool spellings


def settings_from(args: argparse.Namespace, extra: Sequence[str] = ()) -> Settings:
    """The settings a command runs with: `--config`, else the harvester.toml of the project
    holding the current directory (here or above), else the defaults; then `-s`, `--db` and
    `extra` overrides (`section.key=value`)."""
    overrides = [setting_override(text) for text in getattr(args, "set", None) or []]
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


def setting_override(text: str) -> str:
    """One `-s` value as config reads it, `section.key=value`: a Scrapy setting's name
    becomes its Harvester key (its value read as Scrapy reads it); a name without a
    section is refused in one line that suggests the key meant."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or "." in name:
        return text  # config checks it, and names an unknown key
    key = harvester_key(name)
    if key is None:
        raise ConfigError(f"bad -s {text!r}: {_suggestion(name)}")
    return f"{key}={_scrapy_value(key, raw)}"


def _scrapy_value(key: str, raw: str) -> str:
    """A Scrapy setting's value, a string as Scrapy takes it, as the TOML value of `key`."""
    kind = _keys().get(key)
    if kind is str:
        return toml_string(raw)
    if kind is bool:
        return _BOOLEANS.get(raw.strip().lower(), raw)
    return raw


def _suggestion(name: str) -> str:
    """What to write instead of the section-less setting `name`."""
    if name.isupper():
        return (
            "not a harvester.toml key (section.key, such as fetch.delay) nor a Scrapy setting "
            "Harvester has a counterpart for (see the README's table)"
        )
    keys = list(_keys())
    by_name = {key.partition(".")[2]: key for key in reversed(keys)}  # first section wins a shared name
    meant = [key for key in keys if key.partition(".")[2] == name]
    if not meant and name.upper() in COUNTERPARTS:
        meant = [COUNTERPARTS[name.upper()]]
    if not meant:
        meant = [by_name[close] for close in difflib.get_close_matches(name, by_name, n=2)]
    hint = f"; did you mean {' or '.join(meant)}?" if meant else " (such as fetch.delay=1)"
    return f"expected section.key=value{hint}"


@cache
def _keys() -> dict[str, object]:
    """Every `section.key` of harvester.toml's fixed sections, with its type."""
    return {
        f"{name}.{key}": kind
        for name, cls in config.SECTIONS.items()
        for key, kind in typing.get_type_hints(cls).items()
    }


def toml_string(value: str) -> str:
    """`value` as a TOML basic string, for a `section.key=value` override."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL|PATH", help="database URL, or an SQLite file's path, instead of [storage].url"
    )


def add_spider_options(parser: argparse.ArgumentParser) -> None:
    """`-a NAME=VALUE` (a spider attribute) and `-s SECTION.KEY=VALUE` (a setting), repeatable."""
    parser.add_argument(
        "-a", dest="args", action="append", default=[], metavar="NAME=VALUE", help="set a spider attribute (repeatable)"
    )
    parser.add_argument(
        "-s",
        dest="set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a harvester.toml setting (repeatable); Scrapy's names, such as "
        "DOWNLOAD_DELAY=1, work for the settings Harvester has",
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """`-o FILE` (append) and `-O FILE` (overwrite), as in Scrapy 2."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-o",
        "--output",
        dest="output",
        metavar="FILE",
        help="append items to FILE (.jsonl/.jl, .json, .csv, .xml; FILE:FORMAT; - for stdout)",
    )
    group.add_argument(
        "-O", "--overwrite-output", dest="overwrite", metavar="FILE", help="write items to FILE, replacing what it held"
    )


def export_of(args: argparse.Namespace) -> Export | None:
    """Where `-o`/`-O` send the items, checked before the run starts; None without either."""
    overwrite = getattr(args, "overwrite", None)
    spec = overwrite or getattr(args, "output", None)
    return Export.parse(spec, overwrite=bool(overwrite)) if spec else None
