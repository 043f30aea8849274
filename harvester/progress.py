"""Progress of a running crawl: a live panel on a terminal, plain log lines otherwise.

Every few seconds it also writes the journal, which renews the run's heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable

from harvester.run import Run
from harvester.scheduler import Scheduler

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
        log.info("%s; %d queued", run.stats.summary(), await scheduler.size())


async def _live(run: Run, scheduler: Scheduler, waits: Callable[[], dict[str, float]]) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    stats = run.stats
    queued, last_beat, last_pages, last_time, rate = 0, 0.0, stats.pages, time.monotonic(), 0.0

    def panel() -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_row("run", f"{run.id} {run.spider_name}", "queued", str(queued))
        table.add_row("pages", f"{stats.pages} ({rate:.1f}/s)", "items", str(stats.items))
        table.add_row("errors", ", ".join(f"{k} {v}" for k, v in sorted(stats.error_kinds.items())) or "0",
                      "bytes", f"{stats.bytes / 1e6:.1f} MB")
        slow = sorted(waits().items(), key=lambda pair: -pair[1])[:3]
        if slow:
            table.add_row("waiting", ", ".join(f"{host} {wait:.1f}s" for host, wait in slow), "", "")
        return table

    with Live(panel(), console=Console(stderr=True), refresh_per_second=4, transient=True) as live:
        while True:
            await asyncio.sleep(LIVE_SECONDS)
            now = time.monotonic()
            rate = (stats.pages - last_pages) / (now - last_time) if now > last_time else 0.0
            last_pages, last_time = stats.pages, now
            if now - last_beat >= LOG_SECONDS:
                await run.journal.flush()
                queued, last_beat = await scheduler.size(), now
            live.update(panel())
