"""Export formats for `-o`/`-O`: how items are written as JSON lines, a JSON array, XML or CSV.

`Export.parse("out.json:jsonlines")` reads what the user typed: a file (its
format from its suffix, or named after a colon, as Scrapy's `FILE:FORMAT`),
or `-` for standard output (JSON lines unless `-:FORMAT` names another).

A `Format` knows its file's shape: what opens and closes it (`[`/`]`,
`<items>`/`</items>`), how one item is written, and where a file written
before can be extended (`resume_point`), so that appending to a JSON array or
an XML document keeps it one valid document. CSV is written by the export
pipeline at close (it needs every column first), each value as `csv_cell` writes it.

XML has the shape of Scrapy's `XmlItemExporter`: `<items><item><field>…</field></item></items>`,
a list as `<value>` elements, a dict as nested elements, `None` as an empty
element. A field name that is not an XML name has its other characters
replaced by `_` (and `_` put first if it starts with a digit, `-` or `.`);
characters XML 1.0 cannot hold are left out.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from harvester.exceptions import ConfigError

NAMES = {"jsonl": "jsonl", "jsonlines": "jsonl", "jl": "jsonl", "json": "json", "csv": "csv", "xml": "xml"}
SUFFIXES = {".jsonl": "jsonl", ".jl": "jsonl", ".json": "json", ".csv": "csv", ".xml": "xml"}
STDOUT = "-"

_FORMAT_NAME = re.compile(r"[A-Za-z]+")
_XML_NAME = re.compile(r"[^\w.-]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Export:
    """Where items go (`path`; None is standard output), in which format, and whether an existing
    file is overwritten (`-O`) or appended to (`-o`)."""

    path: Path | None
    format: str
    overwrite: bool = False

    @classmethod
    def parse(cls, spec: str | Path, overwrite: bool = False) -> Export:
        """`FILE`, `FILE:FORMAT`, `-` or `-:FORMAT`, as given to `-o` or `-O`."""
        text = str(spec)
        name, sep, tail = text.rpartition(":")
        if sep and name and _FORMAT_NAME.fullmatch(tail):
            if tail.lower() not in NAMES:
                raise ConfigError(
                    f"cannot export to {text}: unknown format {tail!r} (jsonl, jsonlines, jl, json, csv, xml)"
                )
            fmt: str | None = NAMES[tail.lower()]
            text = name
        else:
            fmt = None
        if text == STDOUT:
            return cls(None, fmt or "jsonl", overwrite)
        path = Path(text).expanduser()
        fmt = fmt or SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise ConfigError(
                f"cannot export to {path.name}: use a .jsonl, .jl, .json, .csv or .xml file, "
                f"or name the format as FILE:FORMAT"
            )
        return cls(path, fmt, overwrite)

    def __str__(self) -> str:
        return "standard output" if self.path is None else str(self.path)


class Format:
    """JSON lines: one object per line, nothing around them."""

    head = ""
    tail = ""

    def item(self, data: dict[str, Any], first: bool) -> str:
        return json.dumps(data, ensure_ascii=False) + "\n"

    def resume_point(self, path: Path) -> tuple[int, bool]:
        """Where items appended to the existing file `path` go (a byte offset; the file is cut
        there), and whether it holds items already. Raises ConfigError when it cannot be extended."""
        size = path.stat().st_size
        if size and _last_bytes(path, 1) != b"\n":
            with path.open("ab") as file:  # a last line without its end: end it, or the next item joins it
                file.write(b"\n")
            size += 1
        return size, size > 0


class JsonArray(Format):
    head = "["
    tail = "\n]\n"

    def item(self, data: dict[str, Any], first: bool) -> str:
        return ("\n" if first else ",\n") + json.dumps(data, ensure_ascii=False)

    def resume_point(self, path: Path) -> tuple[int, bool]:
        text = _ends(path)
        start = text.lstrip()[:1]
        end = text.rstrip()
        if start != b"[" or not end.endswith(b"]"):
            raise ConfigError(
                f"cannot append to {path.name}: it does not hold a JSON array; "
                f"use -O to overwrite it, or a .jsonl file to append to"
            )
        before = end[:-1].rstrip()  # the array up to its last item (or its `[`)
        cut = path.stat().st_size - (len(text) - len(before))
        return cut, before.strip() != b"["  # `[]`, `[ ]`: an array without items


class Xml(Format):
    head = '<?xml version="1.0" encoding="utf-8"?>\n<items>\n'
    tail = "</items>\n"
    close_tag = b"</items>"

    def item(self, data: dict[str, Any], first: bool) -> str:
        return "<item>" + "".join(_element(name, value) for name, value in data.items()) + "</item>\n"

    def resume_point(self, path: Path) -> tuple[int, bool]:
        text = _ends(path)
        end = text.rstrip()
        if not end.endswith(self.close_tag) or not text.lstrip().startswith(b"<"):
            raise ConfigError(
                f"cannot append to {path.name}: it does not end with </items>; "
                f"use -O to overwrite it, or a .jsonl file to append to"
            )
        cut = path.stat().st_size - (len(text) - len(end)) - len(self.close_tag)
        return cut, True


def format_of(name: str) -> Format:
    """The writer of a format (`csv` items are spooled as JSON lines and written at close)."""
    return {"json": JsonArray, "xml": Xml}.get(name, Format)()


def csv_cell(value: Any) -> str:
    """`value` as one CSV cell, wherever CSV is written (`-o`, `query --format csv`, a report's
    attachment): `None` empty, a list or dict as JSON, anything else as its text."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def xml_name(name: str) -> str:
    """`name` as an XML element name."""
    cleaned = _XML_NAME.sub("_", _NOT_XML.sub("", str(name))) or "_"
    return cleaned if cleaned[0].isalpha() or cleaned[0] == "_" else "_" + cleaned


def _element(name: str, value: Any) -> str:
    tag = xml_name(name)
    if value is None:
        return f"<{tag}></{tag}>"
    if isinstance(value, dict):
        inner = "".join(_element(key, item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        inner = "".join(_element("value", item) for item in value)
    else:
        inner = escape(_NOT_XML.sub("", str(value)))
    return f"<{tag}>{inner}</{tag}>"


def _last_bytes(path: Path, count: int) -> bytes:
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - count))
        return file.read()


def _ends(path: Path, window: int = 4096) -> bytes:
    """The file when small; otherwise its first and last `window` bytes joined (what a shape check reads)."""
    size = path.stat().st_size
    with path.open("rb") as file:
        if size <= 2 * window:
            return file.read()
        head = file.read(window)
        file.seek(size - window, os.SEEK_SET)
        return head + file.read()
