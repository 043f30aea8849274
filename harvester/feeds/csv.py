"""Response -> records for CSV feeds: `CSVFeedSpider` and the streaming row iterator.

The body is decoded incrementally (BOM, Content-Type charset, the spider's
`encoding`, else UTF-8) and cut into whole records: a line ends a record
unless it ends inside a quoted field, so quoted commas and newlines survive.
Each batch of whole records goes through the `csv` module; each row becomes
a dict keyed by the header row (or the spider's `headers`). A row with the
wrong number of fields is skipped and named, by line, in one `ParseError`
raised once the rest of the feed has been read. A field longer than
`fetch.field_size` (the csv module's `field_size_limit`, 128 KiB unless set),
a record longer than `max_size`, or a row the csv module cannot read ends the
feed with a `ParseError`; the rows before it are kept. Each character is
looked at a bounded number of times, however long a field is.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, Literal

from harvester.config import parse_size
from harvester.exceptions import ParseError
from harvester.feeds.base import FeedSpider
from harvester.feeds.body import feed_text
from harvester.response import Response

MAX_NAMED = 5  # ragged lines named in the error message; the rest are counted
DEFAULT_FIELD_SIZE = 128 * 1024  # the csv module's own default field_size_limit


class CSVFeedSpider(FeedSpider):
    """Streams the rows of CSV feeds to `parse_row(response, row)`, a dict of str to str.

    Memory holds one record at a time (bounded by `max_record_size`), however long the
    feed. A row with more or fewer fields than the header is skipped and counted; a
    malformed feed keeps the rows before the fault and records one `parse` error.

    Attributes:
        delimiter: The field separator.
        quotechar: The quote character.
        headers: The column names; `None`: the first row names them.

    Example:
        ```python
        class Prices(CSVFeedSpider):
            name = "prices"
            start_urls = ["https://shop.example/prices.csv"]
            delimiter = ";"

            def parse_row(self, response, row):
                yield {"sku": row["sku"], "price": float(row["price"])}
        ```
    """

    delimiter: ClassVar[str] = ","
    quotechar: ClassVar[str] = '"'
    headers: ClassVar[Sequence[str] | None] = None  # None: the first row names the columns
    field_size: ClassVar[int | str | None] = None  # longest field; None: the run's fetch.field_size

    def parse(self, response: Response) -> AsyncIterator[Any]:
        """Each row of the feed to `parse_row`, as the bytes arrive; do not override."""
        rows = iter_rows(
            self.watched(response),
            self.delimiter,
            self.quotechar,
            self.headers,
            self.encoding,
            self.record_limit(),
            self.field_limit(),
        )
        return self.each_record(response, rows, self.parse_row)

    def field_limit(self) -> int:
        """Characters one field may hold: `field_size`, else the run's `fetch.field_size`."""
        if self.field_size:
            return int(parse_size(self.field_size))
        settings = self.settings
        return int(settings.fetch.field_size) if settings is not None else DEFAULT_FIELD_SIZE

    def parse_row(self, response: Response, row: dict[str, str]) -> Any:
        """Write this: called with each row (column name -> text); yields items and requests."""
        raise NotImplementedError(f"{type(self).__name__}.parse_row is not defined")


async def iter_rows(
    response: Response,
    delimiter: str = ",",
    quotechar: str | None = '"',
    headers: Sequence[str] | None = None,
    encoding: str | None = None,
    limit: int = 0,
    field_size: int = DEFAULT_FIELD_SIZE,
) -> AsyncIterator[dict[str, str]]:
    """Each row of the body as a dict, as it arrives; ragged rows reported at the end.

    `limit` bounds a record (0: any) and `field_size` a field, in characters.
    """
    quoting: Literal[0, 3] = csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE
    names = list(headers) if headers is not None else None
    records = _Records(quotechar or "", delimiter, field_size, limit)
    ragged: list[str] = []
    skipped = 0
    async for batch, first_line in _batches(response, records, encoding):
        reader = csv.reader(batch, delimiter=delimiter, quotechar=quotechar, quoting=quoting)
        record_line = first_line
        while True:
            saved = csv.field_size_limit(field_size)  # the module's limit is global: ours, briefly
            try:
                fields = next(reader, None)
            except csv.Error as exc:
                raise ParseError(f"CSV line {first_line + reader.line_num - 1}: {exc}", response.request) from None
            finally:
                csv.field_size_limit(saved)
            if fields is None:
                break
            line, record_line = record_line, first_line + reader.line_num
            if not fields:
                continue  # a blank line
            if names is None:
                names = fields
            elif len(fields) == len(names):
                yield dict(zip(names, fields))
            else:
                skipped += 1
                if len(ragged) < MAX_NAMED:
                    ragged.append(f"line {line} has {len(fields)} fields, expected {len(names)}")
    if records.inside:
        raise ParseError(
            f"CSV feed ends inside a quoted field opened on line {records.opened_line()}", response.request
        )
    if skipped:
        more = f"; and {skipped - len(ragged)} more" if skipped > len(ragged) else ""
        raise ParseError(f"{skipped} ragged CSV row(s) skipped: {'; '.join(ragged)}{more}", response.request)


async def _batches(response: Response, records: _Records, encoding: str | None) -> AsyncIterator[tuple[list[str], int]]:
    """(lines of whole records, line number of the first) as the text arrives, the last line included."""
    try:
        async for text in feed_text(response, encoding, what="CSV feed"):
            if batch := records.feed(text):
                yield batch
        if batch := records.feed(""):
            yield batch
    except _TooLong as exc:
        raise ParseError(str(exc), response.request) from None


class _TooLong(ValueError):
    pass


class _Records:
    """Cuts decoded text into lines of whole CSV records, in one pass over each character.

    It follows quotes as the csv module reads them (a quote opens a field only
    at its start; a doubled quote inside stands for one), so it knows where a
    record ends and how long the field being read is, and refuses a field
    over `field_size` or a record over `limit` before holding much more.
    The text of an unfinished record is kept as pieces and joined once.
    """

    def __init__(self, quotechar: str, delimiter: str, field_size: int, limit: int) -> None:
        self.quote = quotechar
        self.delimiter = delimiter
        self.field_size = field_size or sys.maxsize
        self.limit = limit or sys.maxsize
        self.parts: list[str] = []  # the unfinished record
        self.size = 0  # its length
        self.inside = False  # within a quoted field
        self.field = 0  # length of the field being read
        self.opens = True  # a quote here opens a quoted field (at a field's start)
        self.closed = False  # just after a closing quote: another quote is a doubled one
        self.opened = 0  # where the open quoted field began, within the unfinished record
        self.start = 1  # line number of the unfinished record's first line

    def feed(self, text: str) -> tuple[list[str], int] | None:
        """The lines of the records `text` completes and the first one's number ("" at the end)."""
        if not text:
            if not self.parts or self.inside:
                return None
            return ["".join(self.parts)], self.start
        end = self._scan(text)
        if end == 0:
            self.parts.append(text)
            self.size += len(text)
            if self.size > self.limit:
                raise _TooLong(f"CSV record from line {self.start} is over {self.limit} characters")
            return None
        lines = [line + "\n" for line in text[:end].split("\n")[:-1]]
        if self.parts:
            lines[0] = "".join((*self.parts, lines[0]))
        first = self.start
        self.start += len(lines)
        self.opened -= self.size + end
        self.parts = [text[end:]] if end < len(text) else []
        self.size = len(text) - end
        return lines, first

    def _scan(self, text: str) -> int:
        """Follow `text`; where the last record it completes ends (0: none)."""
        quote, delimiter, n = self.quote, self.delimiter, len(text)
        pos = end = 0
        newline = text.find("\n")
        quoted = text.find(quote) if quote else -1
        while pos < n:
            if self.inside:
                j = text.find(quote, pos)
                if j < 0:
                    self.field += n - pos
                    break
                self.field += j - pos
                self.inside, self.closed, pos = False, True, j + 1
                continue
            if 0 <= newline < pos:
                newline = text.find("\n", pos)
            if 0 <= quoted < pos:
                quoted = text.find(quote, pos)
            k = min(newline if newline >= 0 else n, quoted if quoted >= 0 else n)
            if k > pos:
                cut = text.rfind(delimiter, pos, k)
                self.field = k - cut - 1 if cut >= 0 else self.field + k - pos
                self.opens, self.closed = cut == k - 1, False
            if k == n:
                break
            if k == newline:
                end = pos = k + 1
                self.field, self.opens, self.closed = 0, True, False
                continue
            if self.opens:  # a quote opening a field
                self.opened, self.inside = self.size + k, True
            else:  # the second of a doubled quote (back inside), or a literal one
                self.inside, self.field = self.closed, self.field + 1
            self.opens = self.closed = False
            pos = k + 1
        if self.field > self.field_size + 1:  # the field read so far (+1: a "\r" before its newline)
            raise _TooLong(f"CSV field on line {self._line(text, pos)} is over {self.field_size} characters")
        return end

    def _line(self, text: str, pos: int) -> int:
        """The line number of `pos` in `text`, read after the unfinished record."""
        return self.start + sum(part.count("\n") for part in self.parts) + text.count("\n", 0, pos)

    def opened_line(self) -> int:
        """The line where the quoted field left open began."""
        return self.start + "".join(self.parts).count("\n", 0, self.opened)
