"""The engine: frontier -> fetcher -> spider callback -> frontier or pipelines.

`fetch.concurrency` workers share one scheduler. Each takes the next request,
fetches it, records the page, runs the callback, and routes what it yields:
requests back to the scheduler, items through the pipelines. The crawl ends
when the frontier is empty and no worker holds a request, or when it is
asked to stop (the first stop finishes what is in flight; a second cancels it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from harvester.callbacks import outputs
from harvester.exceptions import FetchError, HttpError
from harvester.fetching import Fetch
from harvester.items import is_item
from harvester.pipeline import Pipelines
from harvester.request import Request
from harvester.response import Response
from harvester.run import Run
from harvester.scheduler import Scheduler
from harvester.serialize import NotSerializable
from harvester.spider import Spider

log = logging.getLogger("harvester.engine")


class Engine:
    def __init__(
        self,
        spider: Spider,
        scheduler: Scheduler,
        fetch: Fetch,
        pipelines: Pipelines,
        run: Run,
        concurrency: int,
        max_pages: int = 0,
    ) -> None:
        self.spider = spider
        self.scheduler = scheduler
        self.fetch = fetch
        self.pipelines = pipelines
        self.run = run
        self.concurrency = concurrency
        self.max_pages = max_pages
        self.stopping = False
        self._active = 0
        self._dispatched = 0
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    async def crawl(self) -> str:
        """Run the crawl to its end; the run's final status."""
        if not self.run.resumed:  # a resumed run's start requests are in its frontier already
            await self._start_requests()
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        results = await asyncio.gather(*self._workers, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        return "interrupted" if self.stopping else "finished"

    def stop(self) -> None:
        """First call: take no new requests, finish those in flight. Second: cancel them."""
        if self.stopping:
            for worker in self._workers:
                worker.cancel()
        self.stopping = True
        self.spider.stopping = True  # type: ignore[attr-defined]  # read by feeds between records
        self._notify()

    async def _worker(self) -> None:
        journal = self.run.journal
        while (request := await self._next()) is not None:
            unit = journal.open_unit(self.scheduler.source_of(request))
            try:
                response = await self._fetch(request)
                if response is not None:
                    unit.url = response.url
                    await self._handle(request, response)
            except asyncio.CancelledError:
                journal.abandon_unit()  # not written: a resume fetches it again
                raise
            else:
                self.scheduler.done(request)
                journal.close_unit(unit)
            finally:
                self._active -= 1
                self._notify()

    async def _next(self) -> Request | None:
        while not self.stopping:
            if self.max_pages and self._dispatched >= self.max_pages:
                return None
            request = await self.scheduler.next()
            if request is not None:
                self._active += 1
                self._dispatched += 1
                return request
            if self._active == 0:
                if await self.scheduler.others_busy():  # other workers may still queue requests
                    await asyncio.sleep(0.25)
                    continue
                self._notify()  # nothing queued, nothing in flight: the crawl is over
                return None
            await self._wake.wait()
        return None

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def _fetch(self, request: Request) -> Response | None:
        try:
            response = await self.fetch(request)
        except FetchError as exc:
            self.run.record_error(exc.kind, str(exc), request.url)
            await self._errback(request, exc)
            return None
        if not response.streamed:
            await self._record_page(request, response)
        if response.truncated:  # the readable part goes on to the callback
            self.run.record_error("truncated", f"{response.truncated}; the readable part was used", request.url)
        if response.status >= 400:
            error = HttpError(f"HTTP {response.status}", request, response.status)
            self.run.record_error(error.kind, str(error), request.url)
            await self._errback(request, error)
            return None
        return response

    async def _record_page(self, request: Request, response: Response) -> None:
        size = len(response.body) + response.received
        stats = self.run.stats
        stats.pages += 1
        stats.bytes += size
        stats.statuses[response.status] += 1
        self.run.journal.page(
            url=request.url,
            final_url=response.url,
            status=304 if response.from_cache else response.status,
            content_type=response.headers.get("content-type"),
            size=size,
            redirects=list(response.redirects) or None,
        )

    async def _handle(self, request: Request, response: Response) -> None:
        try:
            callback = self.spider.callback_for(request)
            result = callback(response, **request.cb_kwargs)
        except Exception as exc:  # noqa: BLE001 - a spider bug costs one page, not the run
            self._spider_error(request, response.url, exc)
            result = None
        try:
            await self._route(result, request, response.url)
        finally:
            await response.aclose()  # a stream's connection; a buffered body's share of the memory budget
            if response.streamed:  # recorded once read, with its size
                await self._record_page(request, response)

    async def _route(self, result: Any, parent: Request | None, url: str | None) -> None:
        """Send what a callback produced on: requests to the scheduler, items to the pipelines."""
        try:
            stream = result if hasattr(result, "__aiter__") else outputs(result)  # a feed's records: one layer less
            async for output in stream:
                if isinstance(output, Request):
                    self._add(output, parent, url)
                elif is_item(output):
                    await self.pipelines.process(output, self.run)
                else:
                    self.run.record_error(
                        "spider", f"callback yielded a {type(output).__name__}, not a Request or item", url
                    )
                if self.run.journal.behind:  # a feed faster than the database waits for it: memory stays flat
                    await self.run.journal.caught_up()
        except FetchError as exc:  # a streamed body that failed while the callback read it
            self.run.record_error(exc.kind, str(exc), url)
        except Exception as exc:  # noqa: BLE001 - outputs before the failure are kept
            self._spider_error(parent, url, exc)

    def _add(self, request: Request, parent: Request | None, url: str | None) -> None:
        try:
            if self.scheduler.add_found(request, parent):
                self._notify()
        except NotSerializable as exc:
            self.run.record_error("spider", f"request not queued: {exc}", url)

    async def _errback(self, request: Request, error: FetchError) -> None:
        try:
            errback = self.spider.errback_for(request)
            if errback is not None:
                await self._route(errback(error), request, request.url)
        except Exception as exc:  # noqa: BLE001
            self._spider_error(request, request.url, exc)

    def _spider_error(self, request: Request | None, url: str | None, exc: Exception) -> None:
        where = getattr(self.spider.callback_for(request), "__name__", "callback") if request else "spider"
        log.debug("spider error at %s", url, exc_info=exc)
        self.run.record_error("spider", f"{where}: {type(exc).__name__}: {exc}", url)

    async def _start_requests(self) -> None:
        try:
            async for request in outputs(self.spider.start_requests()):
                if isinstance(request, Request):
                    self.scheduler.add_start(request)
        except Exception as exc:  # noqa: BLE001
            self.run.record_error("spider", f"start_requests: {type(exc).__name__}: {exc}")
