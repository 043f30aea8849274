"""Response -> records for JSON feeds: `JSONFeedSpider` and the streaming record iterator.

ijson (its C backend when installed) reads the body as it arrives and
reports parse events; the values at `item_path` (ijson's prefix syntax:
`"data.item"` is each element of the array under the key `data`) are built
one at a time and handed to `parse_record(response, record)`. Several
top-level values (JSON Lines) are read in turn. Nesting deeper than
`MAX_DEPTH`, a record spanning more than `max_size` bytes or a bad token ends
the feed with a `ParseError` naming the record and byte offset.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import ijson

from harvester.exceptions import ParseError
from harvester.feeds.base import FeedSpider
from harvester.feeds.body import charset_of, choose_encoding, feed_bytes
from harvester.response import Response

MAX_DEPTH = 1000
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
        records = iter_records(response, self.item_path, self.encoding, self.record_limit())
        return self.each_record(response, records, self.parse_record)

    def parse_record(self, response: Response, record: Any) -> Any:
        """Write this: called with each decoded JSON value; yields items and requests."""
        raise NotImplementedError(f"{type(self).__name__}.parse_record is not defined")


async def iter_records(
    response: Response, item_path: str = "item", encoding: str | None = None, limit: int = 0
) -> AsyncIterator[Any]:
    """Each value at `item_path` in the body, built as its bytes arrive."""
    events = ijson.sendable_list()
    parser = ijson.parse_coro(events, multiple_values=True, use_float=True)
    depth = count = offset = 0
    builder: Any = None
    started = 0  # offset when the record being built began
    record_depth = 0
    async for chunk in _utf8(response, encoding):
        offset += len(chunk)
        failure = None
        try:
            parser.send(chunk)
        except ijson.JSONError as exc:
            failure = exc
        for prefix, event, value in events:
            if event in _OPEN:
                depth += 1
                if depth > MAX_DEPTH:
                    raise _fault(response, f"nested deeper than {MAX_DEPTH} levels", count, offset)
            elif event in _CLOSE:
                depth -= 1
            if builder is not None:
                builder.event(event, value)
                if event in _CLOSE and depth == record_depth:
                    count += 1
                    record, builder = builder.value, None
                    yield record
            elif prefix == item_path and event != "map_key" and event not in _CLOSE:
                if event in _OPEN:
                    builder, record_depth, started = ijson.ObjectBuilder(), depth - 1, offset - len(chunk)
                    builder.event(event, value)
                else:
                    count += 1
                    yield value
        del events[:]
        if failure is not None:
            raise _fault(response, f"bad JSON: {_first_line(failure)}", count, offset)
        if builder is not None and limit and offset - started > limit:
            raise _fault(response, f"record is over {limit} bytes", count, offset)
    try:
        parser.close()
    except ijson.JSONError as exc:
        raise _fault(response, f"bad JSON: {_first_line(exc)}", count, offset) from None


async def _utf8(response: Response, encoding: str | None) -> AsyncIterator[bytes]:
    """The body as UTF-8 (what ijson reads): transcoded only when it is in another charset."""
    declared = charset_of(response)
    decoder: Any = None
    head = b""
    async for chunk in feed_bytes(response, what="JSON feed"):
        if decoder is None:
            head += chunk
            if len(head) < 4:
                continue
            chunk, head = head, b""
            decoder = _decoder(chunk, declared, encoding)
            chunk = chunk[decoder[1]:]
        yield chunk if decoder[0] is None else decoder[0].decode(chunk).encode("utf-8")
    if decoder is None:
        decoder = _decoder(head, declared, encoding)
        head = head[decoder[1]:]
        yield head if decoder[0] is None else decoder[0].decode(head, True).encode("utf-8")
    elif decoder[0] is not None:
        yield decoder[0].decode(b"", True).encode("utf-8")


def _decoder(head: bytes, declared: str | None, fallback: str | None) -> tuple[Any, int]:
    name, skip = choose_encoding(head, declared, fallback)
    if codecs.lookup(name).name == "utf-8":
        return None, skip
    return codecs.getincrementaldecoder(name)(errors="replace"), skip


def _fault(response: Response, what: str, count: int, offset: int) -> ParseError:
    return ParseError(f"JSON record {count + 1}: {what} (within the first {offset} bytes)", response.request)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
