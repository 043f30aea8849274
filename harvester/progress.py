"""Progress of a running crawl: a live panel on a terminal, plain log lines otherwise.

Every few seconds it also writes the journal, which renews the run's heartbeat.
A run shared by several workers shows the whole run as its rows have it: its
live workers (host, pid, last heartbeat, requests held), its queue and the
hosts waiting for their turn.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable

from harvester.exceptions import DatabaseError
from harvester.run import Run
from harvester.scheduler import Scheduler
from harvester.storage.live import Queue, queue_of
from harvester.utc import now

log = logging.getLogger("harvester")

LOG_SECONDS = 5.0
LIVE_SECONDS = 0.5


async def report(run: Run, scheduler: Scheduler, waits: Callable[[], dict[str, float]]) -> None:
    """Runs until cancelled."""
    if sys.stderr.isatty() and log.isEnabledFor(logging.INFO):  # no panel with -q
        await _live(run, scheduler, waits)
    else:
        await _lines(run, scheduler)


async def _lines(run: Run, scheduler: Scheduler) -> None:
    while True:
        await asyncio.sleep(LOG_SECONDS)
        await run.journal.flush()
        queue = await _shared_queue(run, scheduler)
        if queue is None:
            log.info("%s; %d queued", run.stats.summary(), await scheduler.size())
        else:
            log.info(
                "%s; run %d: %d queued, %d claimed, %d hosts waiting, %d workers",
                run.stats.summary(),
                run.id,
                queue.queued,
                queue.claimed,
                queue.hosts_waiting,
                len(queue.workers),
            )


async def _shared_queue(run: Run, scheduler: Scheduler) -> Queue | None:
    """The whole queue of a run shared by several workers (None for a run of one process)."""
    if not getattr(scheduler.frontier, "shared", False):
        return None

    def read() -> Queue:
        with run.engine.connect() as connection:
            return queue_of(connection, run.id)

    try:
        queue: Queue = await run.journal.retrying(read, "read")
    except DatabaseError:
        return None
    return queue


async def _live(run: Run, scheduler: Scheduler, waits: Callable[[], dict[str, float]]) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    stats = run.stats
    queued, last_beat, last_pages, last_time, rate = 0, 0.0, stats.pages, time.monotonic(), 0.0
    shared: Queue | None = None

    def panel() -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_row("run", f"{run.id} {run.spider_name}", "queued", str(queued))
        table.add_row("pages", f"{stats.pages} ({rate:.1f}/s)", "items", str(stats.items))
        table.add_row(
            "errors",
            ", ".join(f"{k} {v}" for k, v in sorted(stats.error_kinds.items())) or "0",
            "bytes",
            f"{stats.bytes / 1e6:.1f} MB",
        )
        slow = sorted(waits().items(), key=lambda pair: -pair[1])[:3]
        if slow:
            table.add_row("waiting", ", ".join(f"{host} {wait:.1f}s" for host, wait in slow), "", "")
        if shared is not None:
            table.add_row("claimed", str(shared.claimed), "hosts waiting", str(shared.hosts_waiting))
            for worker in shared.workers:
                ago = (now() - worker.heartbeat_at).total_seconds()
                table.add_row(
                    "worker", f"{worker.host} pid {worker.pid}", "held", f"{worker.held} (beat {ago:.1f}s ago)"
                )
        return table

    with Live(panel(), console=Console(stderr=True), refresh_per_second=4, transient=True) as live:
        while True:
            await asyncio.sleep(LIVE_SECONDS)
            moment = time.monotonic()
            rate = (stats.pages - last_pages) / (moment - last_time) if moment > last_time else 0.0
            last_pages, last_time = stats.pages, moment
            if moment - last_beat >= LOG_SECONDS:
                await run.journal.flush()
                queued, last_beat = await scheduler.size(), moment
                shared = await _shared_queue(run, scheduler)
                if shared is not None:
                    queued = shared.queued
            live.update(panel())
