"""Spider callback step for feeds: the base every streaming feed spider shares.

A feed spider requests its start URLs with `stream=True`, so the transport
hands the body over as it arrives, and its `parse` is an async generator that
turns each record into the outputs of a per-record callback (`parse_node`,
`parse_row`, `parse_record`). A fault part-way raises `ParseError` after the
records before it were yielded: those are kept, the fault is one `errors` row.
The body is bounded in time (`fetch.timeout` per read, `fetch.feed_timeout` in
all), and the first stop request (Ctrl-C, SIGTERM) ends a feed after the
record in hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from harvester.callbacks import outputs
from harvester.config import FetchSettings, Settings, parse_size
from harvester.feeds.body import FeedInterrupted, watch
from harvester.request import Request
from harvester.response import Response
from harvester.spider import Spider

DEFAULT_RECORD_LIMIT = int(FetchSettings().max_size)


class FeedSpider(Spider):
    """The base of the streaming feed spiders: start URLs requested with `stream=True`.

    Attributes:
        encoding: The charset of sources that name none (ftp, file); default UTF-8, a BOM
            detected.
        max_record_size: Bytes one record may span (`"10MB"` or a number); default the run's
            `fetch.max_size`. A larger record is a `parse` error.
    """

    encoding: str | None = None  # for sources that name no charset (ftp, file); default UTF-8
    max_record_size: int | str | None = None  # None: the run's fetch.max_size
    stopping: bool = False  # set by the engine when the run is asked to stop

    def start_requests(self) -> Iterable[Request]:
        """A streamed request for each of `start_urls`, to `parse`."""
        for url in self.start_urls:
            yield Request(url, callback=self.parse, stream=True)

    def record_limit(self) -> int:
        """Bytes one record may span: `max_record_size`, else the run's `fetch.max_size`."""
        if self.max_record_size:
            return int(parse_size(self.max_record_size))
        settings: Settings | None = getattr(self, "settings", None)  # set by the crawler, when it does
        return int(settings.fetch.max_size) if settings is not None else DEFAULT_RECORD_LIMIT

    async def each_record(
        self,
        response: Response,
        records: AsyncIterator[Any],
        callback: Callable[..., Any],
        wrap: Callable[[Any], Any] | None = None,
    ) -> AsyncIterator[Any]:
        """`callback(response, wrap(record))` for each record, its outputs yielded as they come.

        Once the run is stopping, the feed ends after the record in hand: its body is read no
        further, and one `interrupted` error row says where it stopped.
        """
        count = 0
        async for record in records:
            result = callback(response, record if wrap is None else wrap(record))
            if isinstance(result, dict | Request):  # the common case, without a generator
                yield result
            elif result is not None:
                async for output in outputs(result):
                    yield output
            count += 1
            if self.stopping:
                close = getattr(records, "aclose", None)
                if close is not None:
                    await close()
                raise FeedInterrupted(
                    f"stopped by the stop request after record {count}; the rest of the feed was not read",
                    response.request,
                )

    def watched(self, response: Response) -> Response:
        """`response`, its streamed body bounded in time and read no further once the run stops."""
        watch(response, self.settings, lambda: self.stopping)
        return response
