"""HTML -> the `href` values of its links, streamed: the first step of `response.links()`.

libxml2's HTML parser reads the body a chunk at a time and calls back for
each start tag; no tree is built, so a page of a million links or nested a
million deep costs the memory of one chunk and the values not yet taken, and
nothing after the deep part is lost. A parser that stops early (a fatal
libxml2 error) raises `ParseError` after the values before the fault.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import Any

from lxml import etree

from harvester.exceptions import ParseError

CHUNK = 64 * 1024


class _Collector:
    """Parser target: keeps the wanted attribute of the wanted tags, in document order."""

    def __init__(self, tags: frozenset[str], attr: str) -> None:
        self.tags = tags
        self.attr = attr
        self.found: list[str] = []

    def start(self, tag: str, attrib: Any) -> None:
        if tag in self.tags:
            value = attrib.get(self.attr)
            if value is not None:
                self.found.append(value)

    def close(self) -> None:
        return None


def iter_hrefs(body: bytes, encoding: str, tags: tuple[str, ...] = ("a", "area"), attr: str = "href") -> Iterator[str]:
    """`attr` of every element named in `tags`, in document order, as the parser reaches them."""
    if not body or body.isspace():
        return
    collector = _Collector(frozenset(tags), attr)
    parser, chunks = _parser(body, encoding, collector)
    try:
        for chunk in chunks:
            parser.feed(chunk)
            yield from collector.found
            collector.found.clear()
        parser.close()
    except etree.LxmlError as exc:
        raise ParseError(f"HTML parsing stopped: {exc}") from exc
    yield from collector.found
    fatal = [error for error in parser.error_log if error.level_name == "FATAL"]
    if fatal:
        raise ParseError(f"HTML parsing stopped at line {fatal[0].line}: {fatal[0].message}")


def first_href(body: bytes, encoding: str, tag: str) -> str | None:
    """`href` of the first `tag` element that has one (a page's `<base>`)."""
    for value in iter_hrefs(body, encoding, (tag,)):
        return value
    return None


def _parser(body: bytes, encoding: str, target: _Collector) -> tuple[etree.HTMLParser, Iterator[bytes]]:
    """A feeding parser and the chunks it reads: the body's bytes, or UTF-8 when libxml2 lacks the codec."""
    try:
        return etree.HTMLParser(encoding=encoding, target=target), _slices(body)
    except LookupError:
        return etree.HTMLParser(encoding="utf-8", target=target), _transcoded(body, encoding)


def _slices(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), CHUNK):
        yield bytes(view[start : start + CHUNK])


def _transcoded(body: bytes, encoding: str) -> Iterator[bytes]:
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    first = True
    for chunk in _slices(body):
        text = decoder.decode(chunk)
        if first:
            text, first = text.lstrip("\ufeff"), False
        yield text.encode("utf-8")
    yield decoder.decode(b"", final=True).encode("utf-8")
