"""Command-line pieces several commands share: settings from --config, -s and --db."""

from __future__ import annotations

import argparse

from harvester import config
from harvester.config import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = list(getattr(args, "set", None) or [])
    db_url = getattr(args, "db", None)
    if db_url:
        overrides.append(f"storage.url={_toml_string(db_url)}")
    return config.load(getattr(args, "config", None), overrides)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="database URL, instead of [storage].url")
