"""Response -> records for JSON feeds: `JSONFeedSpider` and the streaming record iterator.

ijson (its C backend when installed) reads the body as it arrives and
reports parse events; the values at `item_path` (ijson's prefix syntax:
`"data.item"` is each element of the array under the key `data`) are built
one at a time and handed to `parse_record(response, record)`. Several
top-level values (JSON Lines) are read in turn. Nesting deeper than
`MAX_DEPTH`, a record or any single value (inside a record or not) spanning
more than `max_size` bytes, or a bad token ends the feed with a `ParseError`
naming the record and byte offset, before the parser has buffered much more.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import ijson

from harvester.exceptions import ParseError
from harvester.feeds.base import FeedSpider
from harvester.feeds.body import feed_chunks
from harvester.response import Response

MAX_DEPTH = 1000
PIECE = 64 * 1024  # most bytes handed to ijson at once: bounds the events (and the depth) of one step
_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})


class JSONFeedSpider(FeedSpider):
    """Streams the values at `item_path` of JSON feeds to `parse_record(response, record)`.

    `item_path` uses ijson's prefix syntax: `"item"` is each element of a top-level array,
    `"data.item"` each element of the array under the key `data`, `""` each top-level
    value (JSON lines). JSON nested deeper than 1,000 levels, or a record larger than
    `max_record_size`, is a `parse` error; the records before it are kept.

    Example:
        ```python
        class Api(JSONFeedSpider):
            name = "api"
            start_urls = ["https://api.example/books.json"]
            item_path = "data.books.item"

            def parse_record(self, response, record):
                yield {"isbn": record["isbn"], "title": record["title"]}
        ```
    """

    item_path: ClassVar[str] = "item"  # "item": each element of a top-level array; "": each top-level value

    def parse(self, response: Response) -> AsyncIterator[Any]:
        """Each value at `item_path` to `parse_record`, as the bytes arrive; do not override."""
        records = iter_records(self.watched(response), self.item_path, self.encoding, self.record_limit())
        return self.each_record(response, records, self.parse_record)

    def parse_record(self, response: Response, record: Any) -> Any:
        """Write this: called with each decoded JSON value; yields items and requests."""
        raise NotImplementedError(f"{type(self).__name__}.parse_record is not defined")


async def iter_records(
    response: Response, item_path: str = "item", encoding: str | None = None, limit: int = 0
) -> AsyncIterator[Any]:
    """Each value at `item_path` in the body, built as its bytes arrive.

    ijson is fed at most `PIECE` bytes at a time and reports bare events (no
    prefix strings, which grow with the depth); the path is followed here, so
    nesting past `MAX_DEPTH` is caught within one piece of where it happens.
    A value (string, number, record) spanning more than `limit` bytes is a
    fault whether or not it is at `item_path`.
    """
    events = ijson.sendable_list()
    parser = ijson.basic_parse_coro(events, multiple_values=True, use_float=True)
    path = _Path(item_path)
    count = offset = started = quiet = 0
    builder: Any = None
    record_depth = 0
    async for piece in _pieces(_utf8(response, encoding)):
        offset += len(piece)
        failure = None
        try:
            if piece:
                parser.send(piece)
            else:  # the end: a number at the very end completes only now
                parser.close()
        except ijson.JSONError as exc:
            failure = exc
        quiet = 0 if events else quiet + len(piece)  # bytes since the last event: one token's
        for event, value in events:
            if event in _OPEN:
                if builder is None and path.at_item():  # a record starts
                    builder, record_depth, started = ijson.ObjectBuilder(), path.depth, offset - len(piece)
                if not path.open(event == "start_array"):
                    raise _fault(response, f"nested deeper than {MAX_DEPTH} levels", count, offset)
            elif event in _CLOSE:
                path.close()
            elif event == "map_key":
                path.key(value)
            elif builder is None and path.at_item():  # a record that is a plain value
                count += 1
                yield value
                continue
            if builder is not None:
                builder.event(event, value)
                if event in _CLOSE and path.depth == record_depth:
                    count += 1
                    record, builder = builder.value, None
                    yield record
        del events[:]
        if failure is not None:
            raise _fault(response, f"bad JSON: {_first_line(failure)}", count, offset)
        if limit and builder is not None and offset - started > limit:
            raise _fault(response, f"record is over {limit} bytes", count, offset)
        if limit and quiet > limit:
            raise _fault(response, f"a single value is over {limit} bytes", count, offset)


async def _pieces(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks` in pieces of at most `PIECE` bytes, then b"" for the end."""
    async for chunk in chunks:
        for start in range(0, len(chunk), PIECE):
            yield chunk[start : start + PIECE]
    yield b""


class _Path:
    """Where the parser is, as far as `item_path` cares: ijson's prefix, matched as it grows.

    For each open container it keeps how many characters of `item_path` the
    container's prefix matches (-1: none); never the keys themselves.
    """

    def __init__(self, item_path: str) -> None:
        self.target = item_path
        self.frames: list[int] = []  # for each open container: how much its prefix matches
        self.next: int | None = 0  # matched by the next value's prefix (-1: not item_path; None: a key comes first)

    @property
    def depth(self) -> int:
        return len(self.frames)

    def at_item(self) -> bool:
        return self.next == len(self.target)

    def open(self, array: bool) -> bool:
        """A container starts at the next value's prefix; False past `MAX_DEPTH`."""
        matched = -1 if self.next is None else self.next
        self.frames.append(matched)
        self.next = self._extend(matched, "item") if array else None
        return len(self.frames) <= MAX_DEPTH

    def key(self, name: str) -> None:
        self.next = self._extend(self.frames[-1], name, len(self.frames) > 1)

    def close(self) -> None:
        self.next = self.frames.pop()  # a sibling in an array, or a next top-level value, has the same prefix

    def _extend(self, matched: int, name: str, dot: bool = False) -> int:
        """Matched by `prefix.name`; ijson's C backend leaves the dot out after an empty
        prefix, except before a key below the top level."""
        if matched < 0:
            return -1
        part = f".{name}" if matched or dot else name
        return matched + len(part) if self.target.startswith(part, matched) else -1


async def _utf8(response: Response, encoding: str | None) -> AsyncIterator[bytes]:
    """The body as UTF-8 (what ijson reads): transcoded only when it is in another charset."""
    decoder: Any = None
    first = True
    async for name, chunk in feed_chunks(response, encoding, what="JSON feed"):
        if first:
            first = False
            if codecs.lookup(name).name != "utf-8":
                decoder = codecs.getincrementaldecoder(name)(errors="replace")
        yield chunk if decoder is None else decoder.decode(chunk).encode("utf-8")
    if decoder is not None:
        yield decoder.decode(b"", True).encode("utf-8")


def _fault(response: Response, what: str, count: int, offset: int) -> ParseError:
    return ParseError(f"JSON record {count + 1}: {what} (within the first {offset} bytes)", response.request)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
