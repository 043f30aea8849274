"""`harvester genspider NAME DOMAIN [--template T]`: a new spider module from a template.

Writes `spiders/NAME.py` (in the first package `[project].spiders` names),
a working spider of the chosen kind with its name and domain filled in. It
never overwrites a file, and refuses a name that is not a Python identifier,
is longer than 64 characters, or that a spider of the project already has.
"""

from __future__ import annotations

import argparse
import keyword
import re
import string
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harvester.cli.options import settings_from
from harvester.config import Settings
from harvester.exceptions import ConfigError, SpiderLoadError
from harvester.project import find_spiders

TEMPLATES = ("basic", "crawl", "xmlfeed", "csvfeed", "jsonfeed", "sitemap")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_NAME = 64  # a module file name and a `runs.spider` value: short enough for both, and for people
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?\Z|\[[0-9A-Fa-f:.]+\](:\d{1,5})?\Z")


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("genspider", parents=[common], help="write spiders/NAME.py from a template")
    parser.add_argument("name", help="the spider's name, also its module name")
    parser.add_argument("domain", help="the site's domain (or host:port)")
    parser.add_argument("-t", "--template", choices=TEMPLATES, default="basic",
                        help="the kind of spider (default: basic)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    name, domain = check_name(args.name), check_domain(args.domain)
    path = target(settings, name)
    if path.exists():
        raise ConfigError(f"{path} exists already; not overwritten")
    try:
        taken = name in find_spiders(settings)
    except SpiderLoadError:
        taken = False  # a broken module elsewhere is no reason to refuse a new one
    if taken:
        raise ConfigError(f"the project has a spider named {name!r} already")
    path.parent.mkdir(parents=True, exist_ok=True)
    init = path.parent / "__init__.py"
    if not init.exists():
        init.write_text("")
    path.write_text(render(args.template, name, domain))
    print(f"created spider {name!r} from template {args.template!r} in {path}")
    return 0


def render(template: str, name: str, domain: str) -> str:
    text = (resources.files("harvester") / "templates" / f"{template}.py.tmpl").read_text("utf-8")
    host = urlsplit(f"//{domain}").hostname or domain
    classname = "".join(part.capitalize() for part in name.split("_") if part) + "Spider"
    return string.Template(text).substitute(name=name, classname=classname, domain=domain, host=host)


def target(settings: Settings, name: str) -> Path:
    """Where the module goes: in the first spiders package of the project."""
    package = settings.project.spiders[0] if settings.project.spiders else "spiders"
    directory = Path(settings.root, *package.split("."))
    if Path(f"{directory}.py").exists():
        raise ConfigError(f"[project].spiders names a module ({package}.py), not a package to write into")
    return directory / f"{name}.py"


def check_name(name: str) -> str:
    """A name that is a Python identifier (ASCII letters, digits and _; not a keyword) of at most 64 characters."""
    shown = repr(name) if len(name) <= MAX_NAME else f"{name[:20]!r}... ({len(name)} characters)"
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ConfigError(f"bad spider name {shown}: use letters, digits and _ (a Python identifier)")
    if len(name) > MAX_NAME:
        raise ConfigError(f"bad spider name {shown}: at most {MAX_NAME} characters")
    return name


def check_domain(domain: str) -> str:
    """A bare host (or host:port); a URL given instead is reduced to its host."""
    value = domain.strip()
    if "://" in value:
        value = urlsplit(value).netloc
    value = value.strip("/")
    if not _HOST.match(value):
        raise ConfigError(f"bad domain {domain!r}: expected a host such as example.com")
    return value
