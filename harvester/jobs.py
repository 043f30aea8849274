"""Scheduled jobs: `[jobs.NAME]` from harvester.toml, run now or whenever their cron schedule is due.

A job is a spider with arguments, setting overrides and a cron `schedule`
(five fields, or six with seconds last; local time, or `tz`). Each run is a
`runs` row with `job` set; a job's unfinished run is resumed by its next run,
and the database lock in `open_run` keeps two schedulers from running one
job twice. `serve` runs each job when due, a missed run once at start, until
it is told to stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.engine import Engine

from harvester import config, stop_signals
from harvester.config import JobSettings, Settings
from harvester.exceptions import ConfigError
from harvester.run import Run
from harvester.storage.tables import runs
from harvester.utc import aware

log = logging.getLogger("harvester.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    spec: JobSettings

    @property
    def zone(self) -> dt.tzinfo | None:
        if not self.spec.tz:
            return None
        try:
            return ZoneInfo(self.spec.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"[jobs.{self.name}] unknown time zone {self.spec.tz!r}") from None

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first time the schedule fires after `moment` (an aware datetime)."""
        from croniter import croniter  # imported when used: `harvester crawl` loads this module too

        zone = self.zone
        local = moment.astimezone(zone) if zone else moment.astimezone()
        after: dt.datetime = croniter(self.spec.schedule, local).get_next(dt.datetime)
        return after

    def settings(self, base: Settings) -> Settings:
        return config.override(base, self.spec.settings) if self.spec.settings else base


def jobs_of(settings: Settings) -> dict[str, Job]:
    from croniter import croniter

    jobs = {name: Job(name, spec) for name, spec in settings.jobs.items()}
    for job in jobs.values():
        if not job.spec.schedule or not croniter.is_valid(job.spec.schedule):
            raise ConfigError(f"[jobs.{job.name}] schedule {job.spec.schedule!r} is not a cron expression")
        job.zone  # noqa: B018 - checked at start
    return jobs


def get_job(settings: Settings, name: str) -> Job:
    jobs = jobs_of(settings)
    if name not in jobs:
        raise ConfigError(f"no job named {name!r} (jobs: {', '.join(sorted(jobs)) or 'none'})")
    return jobs[name]


def last_run(engine: Engine, job: str) -> dict[str, Any] | None:
    query = select(runs).where(runs.c.job == job).order_by(runs.c.id.desc()).limit(1)
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return dict(row) if row else None


RunJob = Callable[[Job], Coroutine[Any, Any, Run]]


class Service:
    """`harvester jobs serve`: starts each job when due, never two runs of one job at once."""

    def __init__(self, jobs: dict[str, Job], engine: Engine, run_job: RunJob) -> None:
        self.jobs = jobs
        self.engine = engine
        self.run_job = run_job
        self.stopping = asyncio.Event()
        self.running: dict[str, asyncio.Task[Run]] = {}

    def first_due(self, job: Job, started: dt.datetime) -> dt.datetime:
        """When a job is first due: at once if a run was missed while no scheduler ran."""
        last = last_run(self.engine, job.name)
        if last is not None:
            due = job.next_after(aware(last["started_at"]))
            if due <= started:
                return started  # missed while stopped: runs once, now
        return job.next_after(started)

    async def serve(self) -> None:
        started = dt.datetime.now(dt.UTC)
        due = {name: self.first_due(job, started) for name, job in self.jobs.items()}
        for name, when in sorted(due.items(), key=lambda pair: pair[1]):
            log.info("job %s: next run %s", name, when.isoformat(timespec="seconds"))
        while not self.stopping.is_set():
            now = dt.datetime.now(dt.UTC)
            for name, when in due.items():
                if when <= now:
                    self._start(self.jobs[name])
                    due[name] = self.jobs[name].next_after(now)
            wait = min((when - now).total_seconds() for when in due.values()) if due else 60.0
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=max(0.05, min(wait, 60.0)))
            except TimeoutError:
                pass
        if self.running:
            log.info("stopping: waiting for %s", ", ".join(sorted(self.running)))
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    def _start(self, job: Job) -> None:
        if job.name in self.running:
            log.warning("job %s is due but its last run is still going; skipped", job.name)
            return
        task = asyncio.create_task(self.run_job(job))
        self.running[job.name] = task
        task.add_done_callback(functools.partial(self._finished, job.name))

    def _finished(self, name: str, task: asyncio.Task[Run]) -> None:
        self.running.pop(name, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("job %s failed to run: %s", name, error)
        else:
            result = task.result()
            log.info(
                "job %s: run %d %s: %s%s",
                name,
                result.id,
                result.status,
                result.stats.summary(),
                f" ({result.failure})" if result.failure else "",
            )

    def install_signals(self, on_stop: Callable[[], None]) -> None:
        def stop(sig: signal.Signals) -> None:
            log.info("%s: stopping the scheduler", sig.name)
            self.stopping.set()
            on_stop()

        stop_signals.install(stop)
