"""Response -> records for CSV feeds: `CSVFeedSpider` and the streaming row iterator.

The body is decoded incrementally (BOM, Content-Type charset, the spider's
`encoding`, else UTF-8) and cut into whole records: a line ends a record
unless it ends inside a quoted field, so quoted commas and newlines survive.
Each batch of whole records goes through the `csv` module; each row becomes
a dict keyed by the header row (or the spider's `headers`). A row with the
wrong number of fields is skipped and named, by line, in one `ParseError`
raised once the rest of the feed has been read.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, Literal

from harvester.exceptions import ParseError
from harvester.feeds.base import FeedSpider
from harvester.feeds.body import feed_text
from harvester.response import Response

MAX_NAMED = 5  # ragged lines named in the error message; the rest are counted


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

    def parse(self, response: Response) -> AsyncIterator[Any]:
        """Each row of the feed to `parse_row`, as the bytes arrive; do not override."""
        rows = iter_rows(
            response, self.delimiter, self.quotechar, self.headers, self.encoding, self.record_limit()
        )
        return self.each_record(response, rows, self.parse_row)

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
) -> AsyncIterator[dict[str, str]]:
    """Each row of the body as a dict, as it arrives; ragged rows reported at the end."""
    quoting: Literal[0, 3] = csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE
    names = list(headers) if headers is not None else None
    lines = _Records(quotechar or "", delimiter, limit)
    ragged: list[str] = []
    skipped = 0
    async for batch, first_line in _batches(response, lines, encoding):
        reader = csv.reader(batch, delimiter=delimiter, quotechar=quotechar, quoting=quoting)
        record_line = first_line
        for fields in reader:
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
    if lines.pending:
        raise ParseError(f"CSV feed ends inside a quoted field opened on line {lines.start}",
                         response.request)
    if skipped:
        more = f"; and {skipped - len(ragged)} more" if skipped > len(ragged) else ""
        raise ParseError(f"{skipped} ragged CSV row(s) skipped: {'; '.join(ragged)}{more}",
                         response.request)


async def _batches(response: Response, lines: _Records, encoding: str | None) -> AsyncIterator[tuple[list[str], int]]:
    """(whole records, line number of the first) as the text arrives, the last line included."""
    try:
        async for text in feed_text(response, encoding, what="CSV feed"):
            yield lines.feed(text)
        yield lines.feed("")
    except ValueError as exc:
        raise ParseError(str(exc), response.request) from None


class _Records:
    """Cuts decoded text into runs of whole CSV records (lines kept with their ends)."""

    def __init__(self, quotechar: str, delimiter: str, limit: int) -> None:
        self.quote = quotechar
        self.delimiter = delimiter
        self.limit = limit
        self.carry = ""  # text after the last newline
        self.pending: list[str] = []  # lines of a record still inside a quoted field
        self.pending_size = 0
        self.inside = False
        self.start = 1  # line number of the first line not yet handed out
        self.seen = 0  # lines split off so far

    def feed(self, text: str) -> tuple[list[str], int]:
        """The whole records `text` completes, and the line number of their first line ("" at the end)."""
        parts = (self.carry + text).split("\n") if text else [self.carry, ""] if self.carry else [""]
        self.carry = parts.pop()
        if self.limit and len(self.carry) > self.limit:
            raise ValueError(f"CSV line {self.seen + 1} is over {self.limit} bytes")
        batch, self.pending = self.pending, []
        done = len(batch) if not self.inside else -1
        for line in parts:
            line += "\n"
            self.seen += 1
            batch.append(line)
            if self.quote and self.quote in line:
                self.inside = self._ends_inside(line, self.inside)
            if not self.inside:
                done = len(batch)
        first = self.start
        if done < 0:
            done = 0
        self.pending = batch[done:]
        self.pending_size = sum(map(len, self.pending))
        if self.limit and self.pending_size > self.limit:
            raise ValueError(f"CSV record from line {self.start + done} is over {self.limit} bytes")
        self.start += done
        return batch[:done], first

    def _ends_inside(self, line: str, inside: bool) -> bool:
        """Whether `line` ends within a quoted field (as the csv module reads quotes)."""
        quote, i = self.quote, 0
        while (j := line.find(quote, i)) >= 0:
            if inside:
                if line.startswith(quote, j + 1):  # a doubled quote stands for one
                    i = j + 2
                    continue
                inside = False
            elif j == 0 or line[j - 1] == self.delimiter:  # a quote only opens a field
                inside = True
            i = j + 1
        return inside
