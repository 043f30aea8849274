"""The documentation's references follow the code: a key, command, table or public name
added without its documentation fails here (and `mkdocs build --strict` in scripts/test)."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import logging
import re
from pathlib import Path

import harvester
from harvester import config
from harvester.cli.main import parser
from harvester.storage.tables import metadata

DOCS = Path(__file__).resolve().parent.parent / "docs"

# Public names whose docstring lives in a module the docs work could not edit; every other
# public name has one. Take a name off when its docstring is written.
KNOWN_MISSING: set[str] = set()  # public names allowed to lack a docstring: none


def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def undocumented() -> set[str]:
    missing = set()
    for name in harvester.__all__:
        obj = getattr(harvester, name)
        if not (obj.__doc__ or "").strip():
            missing.add(name)
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if (callable(function) or isinstance(value, property)) and not (function.__doc__ or "").strip():
                missing.add(f"{name}.{attr}")
    return missing


def test_every_public_name_has_a_docstring_but_the_listed_ones():
    missing = undocumented()
    assert missing - KNOWN_MISSING == set(), "public names without a docstring"


def test_the_api_page_shows_every_exported_name():
    page = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"^::: harvester\.(\w+)$", page, re.M))
    assert set(harvester.__all__) <= shown


def test_every_harvester_toml_key_has_a_type_default_and_meaning(caplog):
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.harvester"):
        page = hooks().settings_page()
    assert caplog.records == []
    sections = [
        config.ProjectSettings,
        config.StorageSettings,
        config.CrawlSettings,
        config.FetchSettings,
        config.EmailSettings,
        config.AuthSettings,
        config.JobSettings,
    ]
    for cls in sections:
        for field in dataclasses.fields(cls):
            row = re.search(rf"^\| `{field.name}` \| ([^|]+) \| `([^`]*)` \| (.+) \|$", page, re.M)
            assert row, f"{cls.__name__}.{field.name} is not in the settings reference"
            assert row.group(1).strip() and row.group(3).strip()
    assert '| `max_size` | size | `"256MB"` |' in page
    assert "| `obey_robots` | boolean | `true` |" in page


def test_a_key_without_a_meaning_is_a_warning(caplog):
    @dataclasses.dataclass(frozen=True)
    class Section:
        """A section.

        Attributes:
            named: A key with a meaning.
        """

        named: int = 1
        commented: str = "x"  # a key with a trailing comment
        bare: bool = False

    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.harvester"):
        lines = hooks().section_table(Section, "[section]")
    assert "| `named` | integer | `1` | A key with a meaning. |" in lines
    assert '| `commented` | string | `"x"` | a key with a trailing comment |' in lines
    assert [r.getMessage() for r in caplog.records] == [
        "harvester.config.Section.bare has no meaning: add it to the class docstring's Attributes: section"
    ]


def test_every_command_and_option_is_in_the_commands_reference():
    page = hooks().commands_page()
    module = hooks()
    for path, sub, _summary in module.subcommands(parser(), "harvester"):
        assert f"## `{path}`" in page
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in page, f"{path} {flag}"


def test_every_table_and_column_is_in_the_database_reference():
    page = hooks().database_page()
    for table in metadata.tables.values():
        section = page.split(f"## `{table.name}`", 1)[1].split("\n## ", 1)[0]
        for column in table.columns:
            assert f"| `{column.name}` |" in section, f"{table.name}.{column.name}"
