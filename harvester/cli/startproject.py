"""`harvester startproject NAME [DIR]`: a new, working project from the template.

Writes into DIR (default ./NAME): harvester.toml, spiders/ with an example
spider, the package NAME/ holding the project's own pipelines (`NAME.pipelines`,
as in Scrapy; a top-level `pipelines.py` would clash with the installed
`pipelines` package), and a README. It never overwrites a file.
"""

from __future__ import annotations

import argparse
import importlib.util
import keyword
import string
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from harvester.cli.help import command
from harvester.exceptions import ConfigError

TAKEN = frozenset({"harvester", "spiders", "pipelines", "migrations", "tests"})
PACKAGE = "package"  # the template folder that becomes the project's package, NAME/


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "startproject",
        common,
        help="create a new project",
        description="Create a project in DIR (default: ./NAME): harvester.toml, spiders/ with an\n"
        "example spider, the package NAME/ for the project's own pipelines\n"
        "(NAME.pipelines.StripWhitespace is listed in harvester.toml), and a README.\n"
        "NAME must be a Python identifier that no installed module uses.",
        examples=(
            "harvester startproject shop",
            "harvester startproject shop ~/crawlers/shop",
            "cd shop && harvester crawl example -a url=https://shop.example/",
        ),
    )
    parser.add_argument("name", help="the project's name, also the name of its Python package")
    parser.add_argument("dir", nargs="?", help="where to create it (default: ./NAME)")
    parser.set_defaults(handler=run, anywhere=True)


def run(args: argparse.Namespace) -> int:
    name = check_name(args.name)
    root = Path(args.dir or name)
    files = dict(_files(resources.files("harvester") / "templates" / "project", Path(), name))
    clashes = [str(root / path) for path in files if (root / path).exists()]
    if clashes:
        raise ConfigError(f"{clashes[0]} exists already; nothing written")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    print(f"created project {name!r} in {root}")
    print(f"  cd {root}")
    print("  harvester crawl example -a url=https://example.org/")
    print("  harvester genspider NAME DOMAIN    # another spider")
    return 0


def _files(folder: Traversable, relative: Path, name: str) -> Any:
    """(path in the project, text) for each template under `folder`, `$name` filled in."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        target = relative / (name if entry.name == PACKAGE else entry.name)
        if entry.is_dir():
            yield from _files(entry, target, name)
        elif entry.name.endswith(".tmpl"):
            text = string.Template(entry.read_text("utf-8")).substitute(name=name)
            yield target.with_name(entry.name.removesuffix(".tmpl")), text


def check_name(name: str) -> str:
    """A project name: a Python identifier that is free to become a top-level package."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"bad project name {name!r}: use letters, digits and _ (a Python identifier)")
    if name in TAKEN or name in sys.stdlib_module_names or _installed(name):
        raise ConfigError(f"bad project name {name!r}: a module of that name exists already; choose another")
    return name


def _installed(name: str) -> bool:
    """True when `name` imports as an installed module (a plain folder here does not count)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None and not Path(spec.origin).is_relative_to(Path.cwd())
