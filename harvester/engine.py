"""The engine: frontier -> fetcher -> spider callback -> frontier or pipelines -> recorder.

`fetch.concurrency` workers share one scheduler. Each takes the next request,
fetches it, notes the page, runs the callback, and routes what it yields:
requests back to the scheduler, items through the pipelines (the `store`
pipeline keeps an item with its request, `RunContext.store_item`). What the request
produced (page row, errors, items, requests found, its done mark) is its
`Outcome`, handed whole to the recorder the composition root gave the engine
(`harvester.outcome`); the engine knows nothing of how it is stored. Each request's
trip runs inside a fault barrier (`harvester.faults`): whatever it raises
becomes one `errors` row and the run goes on; only the run's own failure (its
database) ends it. The crawl ends when the frontier is empty and no worker
holds a request, when a limit or `CloseSpider` closes it (`harvester.limits`),
or when it is asked to stop (the first stop finishes what is in flight; a
second cancels it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from harvester.callbacks import outputs
from harvester.events import ResponseReceived
from harvester.exceptions import CloseSpider, DatabaseError, FetchError, HttpError, InvalidURL
from harvester.faults import Stage, describe, kind_of
from harvester.fetching import Fetch
from harvester.items import is_item
from harvester.limits import CloseReason, Limits
from harvester.outcome import Outcome, Recorder
from harvester.pipeline import Pipelines
from harvester.request import Request
from harvester.response import Response
from harvester.run import Run
from harvester.scheduler import Scheduler
from harvester.spider import Spider

log = logging.getLogger("harvester.engine")


class Engine:
    """Runs one crawl: workers taking requests from the scheduler until the run ends."""

    def __init__(
        self,
        spider: Spider,
        scheduler: Scheduler,
        fetch: Fetch,
        pipelines: Pipelines,
        run: Run,
        concurrency: int,
        limits: Limits | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        """`recorder`: where each request's outcome goes (default: the run's journal)."""
        self.spider = spider
        self.recorder: Recorder = recorder if recorder is not None else run.journal
        self.scheduler = scheduler
        self.fetch = fetch
        self.pipelines = pipelines
        self.run = run
        self.concurrency = concurrency
        self.limits = limits or Limits(run.settings.crawl, run.stats)
        self.stopping = False
        self.close_reason: str | None = None  # set when a limit or CloseSpider closes the run
        self.failure: DatabaseError | None = None
        self._active = 0  # workers holding a request, or a slot while they wait for one
        self._in_pipelines = 0
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    async def crawl(self) -> str:
        """Run the crawl to its end; the run's final status."""
        if not self.run.resumed:  # a resumed run's start requests are in its frontier already
            await self._start_requests()
        self._check_limits()
        timer = self._start_timer()
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        try:
            results = await asyncio.gather(*self._workers, return_exceptions=True)
        finally:
            if timer is not None:
                timer.cancel()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        if self.failure is not None:
            return "failed"
        if self.close_reason is not None or not self.stopping:
            return "finished"
        return "interrupted"

    def stop(self) -> None:
        """First call: take no new requests, finish those in flight. Second: cancel them."""
        if self.stopping:
            for worker in self._workers:
                worker.cancel()
        self.stopping = True
        self.spider.stopping = True  # type: ignore[attr-defined]  # read by feeds between records
        self._notify()

    def close(self, reason: str) -> None:
        """Close the run normally (a limit, `CloseSpider`): no new requests, those in flight finish."""
        if self.close_reason is None and not self.stopping:
            self.close_reason = reason
            log.info("closing the run: %s", reason)
        self._notify()

    @property
    def closing(self) -> bool:
        return self.stopping or self.close_reason is not None

    # -- the worker loop ------------------------------------------------------------------------

    async def _worker(self) -> None:
        run_id, recorder = self.run.id, self.recorder
        while (request := await self._next()) is not None:
            outcome = Outcome(run_id, self.scheduler.source_of(request))  # (cancelled: never recorded, done again)
            try:
                response = await self._fetch(request, outcome)
                if response is not None:
                    outcome.url = response.url
                    await self._handle(request, response, outcome)
            except Exception as exc:  # noqa: BLE001 - the fault barrier: one request, one error row
                self._fault(exc, "engine", outcome.url or request.url, outcome)
            outcome.done = self.scheduler.done(request)
            recorder.record(outcome)
            self._active -= 1
            self._check_limits()
            self._notify()

    async def _next(self) -> Request | None:
        while not self.closing:
            if not self.limits.may_dispatch(self._active):  # each request in flight may become a page
                if self._active == 0:
                    self._check_limits()
                    return None
                await self._wake.wait()
                continue
            self._active += 1  # the slot is held while waiting: workers queued behind a claim cannot overshoot
            request = await self.scheduler.next()
            if request is not None:
                if not self.closing:
                    return request  # (one claimed after the close stays claimed: not done, not lost)
            self._active -= 1
            if self.closing:
                break
            if self._active == 0:
                if await self.scheduler.others_busy():  # other workers may still queue requests
                    await asyncio.sleep(0.25)
                    continue
                self._notify()  # nothing queued, nothing in flight: the crawl is over
                return None
            await self._wake.wait()
        self._notify()
        return None

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    # -- one request's trip ---------------------------------------------------------------------

    async def _fetch(self, request: Request, outcome: Outcome) -> Response | None:
        try:
            self.scheduler.check(request)  # admitted already, unless an earlier version queued it
            response = await self.fetch(request)
        except FetchError as exc:
            self._record(outcome, exc.kind, str(exc), request.url)
            await self._errback(request, exc, outcome)
            return None
        except Exception as exc:  # noqa: BLE001 - a bad URL, cookie, header ...: refused, recorded
            self._fault(exc, "fetch", request.url, outcome)
            return None
        if not response.streamed:
            self._page(request, response, outcome)
        if response.truncated:  # the readable part goes on to the callback
            self._record(outcome, "truncated", f"{response.truncated}; the readable part was used", request.url)
        if response.status >= 400:
            error = HttpError(f"HTTP {response.status}", request, response.status)
            self._record(outcome, error.kind, str(error), request.url)
            await self._errback(request, error, outcome)
            return None
        return response

    def _page(self, request: Request, response: Response, outcome: Outcome) -> None:
        size = len(response.body) + response.received
        self.run.events.emit(ResponseReceived(request, response, size))  # counted in the run's figures
        outcome.page(
            url=request.url,
            final_url=response.url,
            status=304 if response.from_cache else response.status,
            content_type=response.headers.get("content-type"),
            size=size,
            redirects=list(response.redirects) or None,
        )

    async def _handle(self, request: Request, response: Response, outcome: Outcome) -> None:
        try:
            result = None
            try:
                callback = self.spider.callback_for(request)
                result = callback(response, **request.cb_kwargs)
            except CloseSpider as exc:
                self.close(exc.reason)
            except Exception as exc:  # noqa: BLE001 - a spider bug costs one page, not the run
                self._fault(exc, "callback", response.url, outcome, _callback_name(request))
            await self._route(result, request, response.url, outcome)
        finally:
            await response.aclose()  # a stream's connection; a buffered body's share of the memory budget
            if response.streamed:  # noted once read, with its size
                self._page(request, response, outcome)

    async def _route(self, result: Any, parent: Request | None, url: str | None, outcome: Outcome) -> None:
        """Send what a callback produced on: requests to the scheduler, items to the pipelines."""
        if result is None:
            return
        stream: Any = result if hasattr(result, "__aiter__") else outputs(result)  # a feed's records: one layer less
        recorder, context = self.recorder, None
        try:
            async with contextlib.aclosing(stream) if hasattr(stream, "aclose") else contextlib.nullcontext():
                async for output in stream:
                    if isinstance(output, Request):
                        self._add(output, parent, url, outcome)
                    elif is_item(output):
                        context = context or self.run.for_request(outcome)
                        if not await self._process(output, context):
                            break  # max_items: the rest is not read
                    else:
                        self._record(
                            outcome,
                            "spider",
                            f"{_callback_name(parent)}: yielded a {type(output).__name__}, not a Request or item",
                            url,
                        )
                    if recorder.behind or outcome.full:  # a feed faster than the database waits: memory stays flat
                        await recorder.pace(outcome)
        except CloseSpider as exc:
            self.close(exc.reason)
        except FetchError as exc:  # a streamed body that failed while the callback read it, a bad feed
            self._record(outcome, exc.kind, str(exc), url)
        except Exception as exc:  # noqa: BLE001 - outputs before the failure are kept
            self._fault(exc, "callback", url, outcome, _callback_name(parent))

    async def _process(self, item: Any, context: Any) -> bool:
        """Pass an item through the pipelines (the `store` pipeline keeps it with its request's outcome,
        through `context`); False once `max_items` is reached (the rest is not read)."""
        if not self.limits.may_process_item(self._in_pipelines):
            self.close(CloseReason.MAX_ITEMS)
            return False
        self._in_pipelines += 1
        try:
            await self.pipelines.process(item, context)
        finally:
            self._in_pipelines -= 1
        return True

    def _add(self, request: Request, parent: Request | None, url: str | None, outcome: Outcome) -> None:
        try:
            row = self.scheduler.add_found(request, parent)
        except Exception as exc:  # noqa: BLE001 - one bad link is one row; the page's other links go on
            self._fault(exc, "queue", request.url, outcome, f"not queued (found on {url})")
            return
        if row is not None:
            outcome.found.append(row)
            self._notify()

    async def _errback(self, request: Request, error: FetchError, outcome: Outcome) -> None:
        try:
            errback = self.spider.errback_for(request)
            if errback is not None:
                await self._route(errback(error), request, request.url, outcome)
        except CloseSpider as exc:
            self.close(exc.reason)
        except Exception as exc:  # noqa: BLE001
            self._fault(exc, "callback", request.url, outcome, f"errback {_callback_name(request, 'errback')}")

    async def _start_requests(self) -> None:
        outcome = Outcome(self.run.id)  # the start requests' rows, and what went wrong with them
        try:
            async for request in outputs(self.spider.start_requests()):
                if isinstance(request, InvalidURL):  # a start URL that does not parse: the others go on
                    self._fault(request, "queue", request.url, outcome, "start_urls")
                    continue
                if not isinstance(request, Request):
                    self._record(outcome, "spider", f"start_requests yielded a {type(request).__name__}, not a Request")
                    continue
                try:
                    row = self.scheduler.add_start(request)
                except Exception as exc:  # noqa: BLE001
                    self._fault(exc, "queue", request.url, outcome, "start request not queued")
                    continue
                if row is not None:
                    outcome.found.append(row)
                if outcome.full:
                    await self.recorder.pace(outcome)
        except CloseSpider as exc:
            self.close(exc.reason)
        except Exception as exc:  # noqa: BLE001
            self._fault(exc, "callback", None, outcome, "start_requests")
        self.recorder.record(outcome)

    # -- faults and limits ----------------------------------------------------------------------

    def _fault(self, exc: Exception, stage: Stage, url: str | None, outcome: Outcome, where: str = "") -> None:
        """One `errors` row for what one request met; a database failure stops the run instead."""
        if isinstance(exc, DatabaseError):
            self.failure = self.failure or exc
            self.stop()
            return
        kind = kind_of(exc, stage)
        log.debug("%s error at %s", kind, url, exc_info=exc)
        self._record(outcome, kind, describe(exc, where), url)

    def _record(self, outcome: Outcome, kind: str, message: str, url: str | None = None) -> None:
        self.run.record_error(kind, message, url, outcome)

    def _check_limits(self) -> None:
        reason = self.limits.reached()
        if reason is not None:
            self.close(reason)

    def _start_timer(self) -> asyncio.TimerHandle | None:
        seconds = self.limits.seconds_left()
        if seconds is None:
            return None
        return asyncio.get_running_loop().call_later(seconds, self.close, CloseReason.MAX_SECONDS)


def _callback_name(request: Request | None, field: str = "callback") -> str:
    """The callback (or errback) a request names, for messages: never resolved again (it may not exist)."""
    if request is None:
        return "spider"
    callback = getattr(request, field)
    if callback is None:
        return "parse"
    return callback if isinstance(callback, str) else getattr(callback, "__name__", field)
