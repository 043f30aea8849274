"""`harvester genspider NAME DOMAIN [--template T]`: a new spider module from a template.

Writes `spiders/NAME.py` (in the first package `[project].spiders` names),
a working spider of the chosen kind with its name and domain filled in;
outside a project, as Scrapy does, `NAME.py` in the current directory (for
`harvester runspider NAME.py`). DOMAIN is a host (the spider starts at
`https://DOMAIN/`) or a URL, kept as given: it is the start URL and its host
the allowed domain. It never overwrites a file, and refuses a name that is
not a Python identifier, is longer than 64 characters, or that a spider of the project already has.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import string
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harvester.cli.help import command
from harvester.cli.options import settings_from
from harvester.config import Settings
from harvester.exceptions import ConfigError, SpiderLoadError
from harvester.project import find_config, find_spiders, shadows_module

TEMPLATES = ("basic", "crawl", "xmlfeed", "csvfeed", "jsonfeed", "sitemap")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FEED_FILES = {
    "xmlfeed": "feed.xml",
    "csvfeed": "feed.csv",
    "jsonfeed": "feed.json",
    "sitemap": "sitemap.xml",
}  # where a feed or sitemap spider given a site's root starts
MAX_NAME = 64  # a module file name and a `runs.spider` value: short enough for both, and for people
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?\Z|\[[0-9A-Fa-f:.]+\](:\d{1,5})?\Z")


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "genspider",
        common,
        help="write spiders/NAME.py (NAME.py outside a project) from a template",
        description="Write spiders/NAME.py, a working spider of the chosen kind for DOMAIN: a host\n"
        "(or host:port), started at https://DOMAIN/, or a URL, kept as the start URL\n"
        "with its host as the allowed domain. Outside a project it writes NAME.py in\n"
        "the current directory, for `harvester runspider NAME.py`. An existing file\n"
        "is never overwritten.",
        examples=(
            "harvester genspider books books.example",
            "harvester genspider quotes http://127.0.0.1:8000/page/1/",
            "harvester genspider news https://news.example/ --template crawl",
            "harvester genspider catalogue shop.example -t xmlfeed",
        ),
    )
    parser.add_argument("name", help="the spider's name, also its module name")
    parser.add_argument("domain", help="the site's domain (or host:port), or the URL to start at")
    parser.add_argument(
        "-t", "--template", choices=TEMPLATES, default="basic", help="the kind of spider (default: basic)"
    )
    parser.set_defaults(handler=run, anywhere=True)


def run(args: argparse.Namespace) -> int:
    name, url = check_name(args.name), check_domain(args.domain)
    in_project = bool(getattr(args, "config", None) or find_config())
    settings = settings_from(args) if in_project else None
    path = target(settings, name) if settings else Path.cwd() / f"{name}.py"
    if path.exists():
        raise ConfigError(f"{path} exists already; not overwritten")
    if not settings and shadows_module(path):  # runspider could not import it
        raise ConfigError(f"{path.name} would hide the module {name!r}; choose another spider name")
    if settings:
        _refuse_taken(settings, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        init = path.parent / "__init__.py"
        if not init.exists():
            init.write_text("")
    path.write_text(render(args.template, name, url))
    print(f"created spider {name!r} from template {args.template!r} in {path}")
    if not settings:
        print(f"run it with: harvester runspider {path.name}")
    return 0


def _refuse_taken(settings: Settings, name: str) -> None:
    try:
        taken = name in find_spiders(settings)
    except SpiderLoadError:
        taken = False  # a broken module elsewhere is no reason to refuse a new one
    if taken:
        raise ConfigError(f"the project has a spider named {name!r} already")


def render(template: str, name: str, url: str) -> str:
    """The template filled in for the spider `name` starting at `url` (see `start_url`); the URL
    is written with JSON's string escapes, which a Python string literal reads alike."""
    text = (resources.files("harvester") / "templates" / f"{template}.py.tmpl").read_text("utf-8")
    parts = urlsplit(url)
    classname = "".join(part.capitalize() for part in name.split("_") if part) + "Spider"
    literal = json.dumps(start_url(template, url), ensure_ascii=False)[1:-1]
    return string.Template(text).substitute(
        name=name, classname=classname, domain=parts.netloc, host=parts.hostname or parts.netloc, start_url=literal
    )


def start_url(template: str, url: str) -> str:
    """Where a spider of `template` starts, given `url`: the URL itself, except that a feed or
    sitemap spider given a folder (a path ending in /, such as a site's root) starts at its
    usual file at the site's root (/feed.xml, /sitemap.xml)."""
    parts = urlsplit(url)
    file = _FEED_FILES.get(template)
    if file is None or (parts.path and not parts.path.endswith("/")):
        return url
    return f"{parts.scheme}://{parts.netloc}/{file}"


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
    """The URL genspider's DOMAIN means: a URL as given, a bare host (or host:port) `https://host/`."""
    value = domain.strip()
    host = urlsplit(value).netloc if "://" in value else value.rstrip("/")
    if not _HOST.match(host):
        raise ConfigError(f"bad domain {domain!r}: expected a host such as example.com, or a URL")
    return value if "://" in value else f"https://{host}/"
