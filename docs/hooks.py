"""MkDocs hook: the reference pages written from the code at every build, so they cannot drift.

- `reference/settings.md`: every harvester.toml key, from the dataclasses of
  `harvester.config` (type and default from the fields, the meaning from the
  class docstring's `Attributes:` section, else the field's trailing comment).
  A key with no meaning is a warning, which fails `mkdocs build --strict`.
- `reference/commands.md`: every command and option, walked from the parser
  `harvester.cli.main.parser()` builds.
- `reference/database.md`: the tables of `harvester.storage.tables.metadata`.
- `changelog.md`: CHANGELOG.md at the repository's root, as it is.
- In `migrating.md`, the line `<!-- scrapy-settings -->` becomes the table of Scrapy
  settings and their keys, from `harvester.scrapy_settings` (what `-s NAME=...` accepts).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("mkdocs.plugins.harvester")
ROOT = Path(__file__).resolve().parent.parent


def on_files(files, config):
    from mkdocs.structure.files import File

    pages = {
        "reference/settings.md": settings_page,
        "reference/commands.md": commands_page,
        "reference/database.md": database_page,
        "changelog.md": lambda: (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"),
    }
    for path, make in pages.items():
        files.append(File.generated(config, path, content=make()))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "migrating.md":
        return markdown.replace("<!-- scrapy-settings -->", scrapy_settings_table())
    return markdown


def scrapy_settings_table() -> str:
    """Scrapy's settings, as `harvester.scrapy_settings` maps them, sorted by name."""
    from harvester import scrapy_settings

    rows = {name: f"`{key}`" for name, key in scrapy_settings.COUNTERPARTS.items()}
    rows |= {
        name: f"no counterpart; {hint.replace('|', chr(92) + '|')}"
        for name, hint in scrapy_settings.WITHOUT_COUNTERPART.items()
    }
    lines = ["| Scrapy setting | Harvester |", "|---|---|"]
    lines += [f"| `{name}` | {rows[name]} |" for name in sorted(rows)]
    return "\n".join(lines)


# -- harvester.toml -------------------------------------------------------------------------------


def meanings(cls: type) -> dict[str, str]:
    """Field name -> meaning: the docstring's `Attributes:` entries, else trailing `# comments`."""
    found: dict[str, str] = {}
    source = inspect.getsource(cls)
    for name, comment in re.findall(r"^\s+(\w+): [^\n=]+=[^\n#]*#\s*(.+)$", source, re.M):
        found[name] = comment.strip()
    doc = inspect.getdoc(cls) or ""
    section = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
    current = None
    for line in section.splitlines():
        entry = re.match(r"^    (\w+): (.*)$", line)
        if entry:
            current = entry.group(1)
            found[current] = entry.group(2).strip()
        elif current and line.startswith("        "):
            found[current] += " " + line.strip()
        elif line.strip():
            current = None
    return found


def toml_type(kind: object) -> str:
    from harvester.config import Size

    origin = typing.get_origin(kind)
    if kind is Size:
        return "size"
    if kind in (bool, int, float, str):
        return {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}[kind.__name__]
    if origin is tuple:
        return f"list of {toml_type(typing.get_args(kind)[0])}s"
    if origin in (Mapping, dict):
        value = typing.get_args(kind)[1]
        return "table" if value is typing.Any else f"table of {toml_type(value)}s"
    return str(kind)


def toml_value(value: object) -> str:
    from harvester.config import Size

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Size):
        for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
            if value and value % size == 0:
                return f'"{value // size}{unit}"'
        return str(int(value))
    if isinstance(value, str):
        return '""' if not value else f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def section_table(cls: type, title: str) -> list[str]:
    hints = typing.get_type_hints(cls)
    meaning = meanings(cls)
    doc = (inspect.getdoc(cls) or "").split("\n\n", 1)[0].split("Attributes:")[0].strip()
    doc = re.sub(r"^`[^`]+`: ", "", doc)
    doc = doc[:1].upper() + doc[1:]
    lines = [f"## `{title}`", "", doc, "", "| key | type | default | meaning |", "|---|---|---|---|"]
    for fld in dataclasses.fields(cls):
        if fld.default is not dataclasses.MISSING:
            default = fld.default
        else:
            default = fld.default_factory()  # type: ignore[misc]
        if fld.name not in meaning:
            log.warning(
                "harvester.config.%s.%s has no meaning: add it to the class docstring's Attributes: section",
                cls.__name__,
                fld.name,
            )
        text = meaning.get(fld.name, "").replace("|", "\\|")
        lines.append(f"| `{fld.name}` | {toml_type(hints[fld.name])} | `{toml_value(default)}` | {text} |")
    return lines + [""]


def settings_page() -> str:
    from harvester import config

    lines = [
        "# harvester.toml keys",
        "",
        "Generated from `harvester/config.py` at every build. The file is checked when a command",
        "starts: an unknown section or key stops it with the name. `-s section.key=value`",
        "overrides a key for one run (`crawl`, `jobs run`, `worker`, `runspider`); a job's",
        "`settings` table does the same for its runs. Sizes take `B`, `KB`, `MB`, `GB` (powers",
        "of 1024) or a plain number of bytes. Secrets are never written in the file: each",
        "`*_env` key names the environment variable that holds one.",
        "",
    ]
    sections = [(cls, f"[{name}]") for name, cls in config.SECTIONS.items()]
    sections += [(cls, f"[{name}.{key}]") for name, (cls, key) in config.KEYED_SECTIONS.items()]
    listed = {cls for cls, _ in sections}
    for fld in dataclasses.fields(config.Settings):
        kind = typing.get_type_hints(config.Settings)[fld.name]
        inner = typing.get_args(kind)[-1] if typing.get_origin(kind) in (Mapping, dict) else kind
        if dataclasses.is_dataclass(inner) and inner not in listed:
            log.warning("harvester.config: section %s (%s) is not in the settings reference", fld.name, inner.__name__)
    for cls, title in sections:
        lines += section_table(cls, title)
    return "\n".join(lines)


# -- commands -------------------------------------------------------------------------------------


def subcommands(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", sub, summaries.get(name, "")
                yield from subcommands(sub, f"{path} {name}")


def options_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.option_strings:
            name = ", ".join(f"`{flag}`" for flag in action.option_strings)
            if action.nargs != 0:
                name += f" `{formatter._format_args(action, action.dest.upper())}`"
        else:
            name = f"`{formatter._format_args(action, action.dest)}`"
        text = formatter._expand_help(action) if action.help else ""
        default = action.default
        if default not in (None, False, argparse.SUPPRESS, []) and action.nargs != 0 and "default" not in text:
            text += f" (default: `{default}`)"
        rows.append(f"| {name} | {text.replace('|', chr(92) + '|')} |")
    if not rows:
        return []
    return ["| argument | meaning |", "|---|---|", *rows, ""]


def commands_page() -> str:
    from harvester.cli.main import parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps usage lines at the terminal's width
    try:
        top = parser()
        lines = [
            "# Commands",
            "",
            "Generated from Harvester's argument parser at every build: what `--help` says.",
            "",
            "```text",
            top.format_help().rstrip(),
            "```",
            "",
        ]
        for path, sub, summary in subcommands(top, "harvester"):
            lines += [f"## `{path}`", ""]
            if summary:
                lines += [summary[:1].upper() + summary[1:] + ".", ""]
            lines += ["```text", sub.format_usage().rstrip()]
            if sub.description:
                lines += ["", sub.description.rstrip()]
            lines += ["```", ""]
            lines += options_table(sub)
            if sub.epilog:
                lines += ["```text", sub.epilog.rstrip(), "```", ""]
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(lines)


# -- database -------------------------------------------------------------------------------------


def database_page() -> str:
    from harvester.storage.tables import metadata

    lines = [
        "# Database tables",
        "",
        "Generated from `harvester/storage/tables.py` (the SQLAlchemy metadata the Alembic",
        "migrations are checked against) at every build. [The harvest database](../guides/database.md)",
        "says what the columns of the stable tables (`runs`, `items`, `item_history`, `pages`,",
        "`errors`) hold; the other tables are Harvester's own bookkeeping and may change.",
        "",
    ]
    for table in metadata.tables.values():  # as defined: the stable tables first
        lines += [f"## `{table.name}`", ""]
        if table.comment:
            lines += [table.comment, ""]
        rows = []
        for column in table.columns:
            key = []
            if column.primary_key:
                key.append("primary")
            key += [f"→ `{fk.target_fullname}`" for fk in column.foreign_keys]
            if column.unique:
                key.append("unique")
            default = ""
            if column.server_default is not None:
                default = f"`{getattr(column.server_default, 'arg', column.server_default)}`"
            elif column.default is not None and not callable(getattr(column.default, "arg", None)):
                default = f"`{column.default.arg}`"
            kind = "JSON" if "Json" in type(column.type).__name__ else str(column.type)
            rows.append(
                [
                    f"`{column.name}`",
                    kind,
                    "yes" if column.nullable else "no",
                    ", ".join(key),
                    default,
                    (column.comment or "").replace("|", "\\|"),
                ]
            )
        headings = ["column", "type", "null", "key", "default", "meaning"]
        shown = [i for i in range(len(headings)) if i < 4 or any(row[i] for row in rows)]  # no empty columns
        lines += ["| " + " | ".join(headings[i] for i in shown) + " |", "|" + "---|" * len(shown)]
        lines += ["| " + " | ".join(row[i] for i in shown) + " |" for row in rows]
        indexes = sorted(table.indexes, key=lambda index: index.name or "")
        if indexes:
            lines += [
                "",
                "Indexes: "
                + "; ".join(
                    f"`{index.name}` ({', '.join(c.name for c in index.columns)}{', unique' if index.unique else ''})"
                    for index in indexes
                )
                + ".",
            ]
        lines.append("")
    return "\n".join(lines)
