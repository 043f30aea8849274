"""The composition root: settings + spider class -> a finished, recorded run.

Everything the engine uses is built here from the settings and handed to its
constructor; nothing reads global state, so a crawl can run twice in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harvester import schemes, stop_signals
from harvester.config import Settings, for_spider
from harvester.credentials import Credentials
from harvester.engine import Engine
from harvester.events import RunClosed, RunOpened, load_subscribers, subscribe
from harvester.exceptions import DatabaseError, HarvesterError, SpiderLoadError
from harvester.fetching import Fetcher, load_middlewares
from harvester.frontier import DbFrontier
from harvester.limits import CloseReason, Limits
from harvester.logs import ResponseLog
from harvester.pipeline import Pipelines, load_pipeline
from harvester.progress import report as report_progress
from harvester.run import Run, RunStatus
from harvester.scheduler import Scheduler
from harvester.spider import Spider
from harvester.stats import Stats
from harvester.storage.closing import close_run
from harvester.storage.database import open_engine
from harvester.storage.health import Health
from harvester.storage.http_cache import HttpCache
from harvester.storage.items import ItemRows
from harvester.storage.journal import Journal
from harvester.storage.migrate import ensure_current
from harvester.storage.runs import open_run, shared_stats
from harvester.transports.file import FileRoots

log = logging.getLogger("harvester")


def build_pipelines(settings: Settings, export: str | Path | None = None) -> Pipelines:
    pipelines = []
    for path in settings.project.pipelines:
        cls = load_pipeline(path)
        try:
            pipelines.append(cls())
        except Exception as exc:  # noqa: BLE001 - one line, before the run starts
            raise SpiderLoadError(f"pipeline {path!r} failed to start: {type(exc).__name__}: {exc}") from None
    if export:
        pipelines.append(load_pipeline("export")(export))  # the built-in, by its short name
    return Pipelines(pipelines)


async def crawl(
    settings: Settings,
    spider_cls: type[Spider],
    args: Mapping[str, Any] | None = None,
    job: str | None = None,
    export: str | Path | None = None,
    handle_signals: bool = False,
    resume: bool = False,
    stop: asyncio.Event | None = None,
    worker: bool = False,
) -> Run:
    """One run of a spider, recorded in the harvest database; returns the finished run.

    With `resume`, the newest unfinished run of the spider (of `job`, if given)
    goes on where it stopped, under the same id; without one, a new run starts.
    Setting `stop` stops the run as a first Ctrl-C does. A `worker` joins the
    newest unfinished run of the spider if there is one (several processes
    share its frontier), and starts one otherwise.
    """
    settings = for_spider(settings, spider_cls.name, getattr(spider_cls, "custom_settings", None))
    database = open_engine(settings.database_url(), patience=settings.storage.patience)
    ensure_current(database)
    pipelines = build_pipelines(settings, export)
    middlewares = load_middlewares(settings, spider_cls)  # a bad one is one line, before a run opens
    registry = schemes.install(spider_cls)  # the crawl's schemes: built-in and the spider's `transports`
    subscribers = load_subscribers(settings.project.subscribers)
    try:
        spider = spider_cls(**dict(args or {}))
    except Exception as exc:  # noqa: BLE001 - one line, before the run starts
        raise SpiderLoadError(f"spider {spider_cls.name!r} failed to start: {type(exc).__name__}: {exc}") from None
    spider.settings = settings
    run_id, earlier = open_run(
        database, spider.name, job, resume, settings.crawl.lease, join=worker, patience=settings.storage.patience
    )
    stats = Stats() if earlier is None else Stats.from_json(earlier)
    if earlier is not None:
        log.info("resuming run %d of %s", run_id, spider.name)
    elif resume and not worker and job is None:  # a job resumes its own run when it has one, silently
        log.warning("no unfinished run of %s to resume: run %d starts afresh", spider.name, run_id)
    health = Health(database, settings.storage.patience)
    journal = Journal(
        database,
        run_id,
        stats,
        gather=max(1, settings.fetch.concurrency // 4),
        health=health,
        item_rows=ItemRows(run_id, spider),
    )  # the items the store pipeline keeps
    run = Run(run_id, spider, settings, database, journal, job, stats, resumed=earlier is not None)
    events = run.events  # the run's figures count them first, then the project's subscribers, then the spider
    claim = max(32, settings.fetch.concurrency * 3 // 2)  # every request slot and half again: fewer claims
    frontier = DbFrontier(
        database,
        journal,
        run_id,
        batch=settings.fetch.concurrency if worker else claim,
        lease=settings.crawl.lease,
        shared=worker,
        per_host=settings.fetch.per_host,
        delay=settings.fetch.delay,
    )
    journal.queue = frontier  # the frontier writes its own rows, in the journal's transactions
    if earlier is not None:
        frontier.release_claims(expired_only=worker)
    if worker:
        frontier.join()
    # The operator's file:// trees, checked at admission and by the file transport; a resumed run
    # finds them again in its start_urls and in the figures it kept (its start requests are not run twice).
    file_roots = FileRoots([*spider.start_urls, *stats.file_roots])
    stats.file_roots = file_roots.urls  # kept with the run, in runs.stats
    scheduler = Scheduler(frontier, spider.allowed_domains, settings.crawl.depth_limit, events, file_roots, registry)
    cache = HttpCache(database, spider.name, settings.storage.patience) if settings.fetch.revalidate else None
    credentials = Credentials(settings, spider.start_urls)  # not from the database: it never holds them
    fetcher = Fetcher(
        settings,
        registry.open(settings, credentials, file_roots),
        cache=cache,
        credentials=credentials,
        middlewares=middlewares,
    )
    frontier.host_wait, frontier.host_delay = fetcher.hosts.wait_of, fetcher.hosts.delay_of
    limits = Limits(settings.crawl, stats)
    if worker:  # the run's limits hold for all its workers together
        frontier.max_pages, frontier.max_items = settings.crawl.max_pages, settings.crawl.max_items
        limits.shared = lambda: frontier.run_figures
    engine = Engine(
        spider, scheduler, ResponseLog(fetcher), pipelines, run, settings.fetch.concurrency, limits, recorder=journal
    )
    health.on_failure = lambda exc: engine.stop()
    journal.start()
    progress = asyncio.create_task(report_progress(run, scheduler, fetcher.hosts.waiting))
    if handle_signals:
        stop_signals.install(functools.partial(_on_signal, engine))
    stopper = asyncio.create_task(_stop_when_set(stop, engine)) if stop is not None else None
    status = RunStatus.FAILED
    try:
        for path, subscriber in zip(settings.project.subscribers, subscribers, strict=True):
            subscribe(events, f"subscriber {path!r}", subscriber)
        subscribe(events, f"spider {spider.name!r}", spider.subscribe)
        await _open(pipelines, run)
        events.emit(RunOpened(run_id, spider.name, run.resumed, settings))
        status = RunStatus(await engine.crawl())
        if journal.failure is not None or engine.failure is not None:
            status = RunStatus.FAILED
    finally:
        progress.cancel()
        if stopper is not None:
            stopper.cancel()
        if handle_signals:
            stop_signals.remove()
        await fetcher.aclose()
        await frontier.close()
        stats.elapsed = stats.seconds()
        run.status = status
        stats.close_reason = engine.close_reason if status == "finished" and engine.close_reason else status
        if journal.failure is None:
            with contextlib.suppress(DatabaseError):
                await journal.flush()  # pipelines closing (reports) see every item of the run
        await events.drain()  # async handlers of the run's last events
        await pipelines.close(run)
        _closed(spider, stats.close_reason)  # after the pipelines, as Scrapy's spider_closed
        closed_early = status == "finished" and engine.close_reason is not None
        await close_run(journal, status, stats, frontier.worker if worker else None, settings.crawl.lease, closed_early)
        if worker and journal.failure is None:
            run.stats = Stats.from_json(
                await asyncio.to_thread(shared_stats, database, run_id, stats.seconds(), stats.close_reason)
            )
        failure = journal.failure or engine.failure
        if failure is not None:
            run.status, run.failure = RunStatus.FAILED, str(failure)
            run.stats.close_reason = CloseReason.FAILED
        events.emit(RunClosed(run_id, spider.name, run.stats.close_reason, run.status, run.stats.as_json()))
        await events.drain()
        events.report_failures()
        database.dispose()
    return run


async def _open(pipelines: Pipelines, run: Run) -> None:
    """Open the pipelines; one that raises fails the run with one line (a HarvesterError)."""
    try:
        await pipelines.open(run)
    except HarvesterError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise SpiderLoadError(f"a pipeline failed to open: {type(exc).__name__}: {exc}") from None


def _closed(spider: Spider, reason: str) -> None:
    """The spider's `closed(reason)` hook; a fault in it is logged, the run is closed anyway."""
    try:
        spider.closed(reason)
    except Exception as exc:  # noqa: BLE001
        log.warning("%s.closed(%r) raised %s: %s", type(spider).__name__, reason, type(exc).__name__, exc)


async def _stop_when_set(stop: asyncio.Event, engine: Engine) -> None:
    await stop.wait()
    engine.stop()


def _on_signal(engine: Engine, sig: signal.Signals) -> None:
    if engine.stopping:
        log.warning("second %s: cancelling requests in flight", sig.name)
    else:
        log.warning("%s: finishing requests in flight, then stopping (again to force)", sig.name)
    engine.stop()
