"""The composition root: settings + spider class -> a finished, recorded run.

Everything the engine uses is built here from the settings and handed to its
constructor; nothing reads global state, so a crawl can run twice in one process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harvester.config import Settings
from harvester.engine import Engine
from harvester.fetching import Fetcher
from harvester.frontier import MemoryFrontier
from harvester.pipeline import Pipelines, load_pipeline
from harvester.run import Run
from harvester.scheduler import Scheduler
from harvester.spider import Spider
from harvester.storage.database import open_engine
from harvester.storage.http_cache import HttpCache
from harvester.storage.migrate import ensure_current
from harvester.storage.recorder import Recorder

log = logging.getLogger("harvester")

PROGRESS_SECONDS = 5.0


def build_pipelines(settings: Settings, export: str | Path | None = None) -> Pipelines:
    from pipelines.export import ExportPipeline

    pipelines = [load_pipeline(path)() for path in settings.project.pipelines]
    if export:
        pipelines.append(ExportPipeline(export))
    return Pipelines(pipelines)


async def crawl(
    settings: Settings,
    spider_cls: type[Spider],
    args: Mapping[str, Any] | None = None,
    job: str | None = None,
    export: str | Path | None = None,
    handle_signals: bool = False,
) -> Run:
    """One run of a spider, recorded in the harvest database; returns the finished run."""
    database = open_engine(settings.database_url())
    ensure_current(database)
    pipelines = build_pipelines(settings, export)
    spider = spider_cls(**dict(args or {}))
    recorder = Recorder(database, settings.storage.batch_size)
    run = Run(recorder.start(spider.name, job), spider, settings, database, recorder, job)
    scheduler = Scheduler(MemoryFrontier(), spider.allowed_domains, settings.crawl.depth_limit)
    cache = HttpCache(database, spider.name) if settings.fetch.revalidate else None
    fetcher = Fetcher(settings, cache=cache)
    engine = Engine(spider, scheduler, fetcher, pipelines, run, settings.fetch.concurrency, settings.crawl.max_pages)
    progress = asyncio.create_task(_report_progress(run, scheduler))
    if handle_signals:
        _install_signals(engine)
    status = "failed"
    try:
        status = await engine.crawl()
    finally:
        progress.cancel()
        if handle_signals:
            _remove_signals()
        await fetcher.aclose()
        run.stats.elapsed = run.stats.seconds()
        run.stats.filtered.update(scheduler.filtered)
        run.status = status
        recorder.finish(status, run.stats.as_json())
        database.dispose()
    return run


async def _report_progress(run: Run, scheduler: Scheduler) -> None:
    while True:
        await asyncio.sleep(PROGRESS_SECONDS)
        await run.recorder.flush()
        log.info("%s; %d queued", run.stats.summary(), scheduler.size())


def _install_signals(engine: Engine) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, engine, sig)


def _on_signal(engine: Engine, sig: signal.Signals) -> None:
    if engine.stopping:
        log.warning("second %s: cancelling requests in flight", sig.name)
    else:
        log.warning("%s: finishing requests in flight, then stopping (again to force)", sig.name)
    engine.stop()


def _remove_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
