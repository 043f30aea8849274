"""`harvester jobs list|run|serve`: the scheduled jobs of `[jobs.NAME]`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import Any

from harvester import loop
from harvester.cli.closing import close_run
from harvester.cli.formats import write
from harvester.cli.options import add_db_option, settings_from
from harvester.config import Settings
from harvester.crawler import crawl
from harvester.jobs import Job, Service, get_job, jobs_of, last_run
from harvester.pipeline import load_pipeline
from harvester.project import get_spider
from harvester.run import Run
from harvester.storage.database import open_engine, safe_url
from harvester.storage.migrate import ensure_current
from harvester.utc import aware


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("jobs", parents=[common], help="scheduled crawl jobs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="each job, its schedule, last and next run")
    run = actions.add_parser("run", parents=[common], help="one run of a job now")
    run.add_argument("name", help="the job's name ([jobs.NAME] in harvester.toml)")
    run.add_argument(
        "-s",
        dest="set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a harvester.toml setting for this run (repeatable)",
    )
    serve = actions.add_parser("serve", parents=[common], help="run each job when due, until stopped")
    for action, handler in ((listing, list_jobs), (run, run_job), (serve, serve_jobs)):
        add_db_option(action)
        action.set_defaults(handler=handler)


def list_jobs(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    jobs = jobs_of(settings)
    engine = open_engine(settings.database_url())
    try:
        ensure_current(engine)
        now = dt.datetime.now(dt.UTC)
        rows = []
        for name, job in sorted(jobs.items()):
            last = last_run(engine, name)
            rows.append(
                {
                    "job": name,
                    "spider": job.spec.spider,
                    "schedule": job.spec.schedule + (f" ({job.spec.tz})" if job.spec.tz else ""),
                    "last run": f"{last['id']} {last['status']} {aware(last['started_at']).astimezone():%Y-%m-%d %H:%M}"
                    if last
                    else "never",
                    "next run": f"{job.next_after(now):%Y-%m-%d %H:%M:%S %Z}".strip(),
                }
            )
    finally:
        engine.dispose()
    write(rows, "table")
    return 0


async def _run(settings: Settings, job: Job, stop: asyncio.Event | None = None, signals: bool = False) -> Run:
    job_settings = job.settings(settings)
    spider_cls = get_spider(job_settings, job.spec.spider)
    run = await crawl(
        job_settings, spider_cls, dict(job.spec.args), job=job.name, resume=True, handle_signals=signals, stop=stop
    )
    if job.spec.report:
        await send_report(run)
    return run


async def send_report(run: Run) -> None:
    """A job with `report = true` mails its report even when the pipeline is not listed.

    The email report pipeline is recognised by its class, whatever name lists it (`email_report`,
    its class path, a project's subclass of it), so a listed one never sends a second report.
    """
    report = load_pipeline("email_report")
    if any(issubclass(load_pipeline(name), report) for name in run.settings.project.pipelines):
        return
    await report().close(run)  # what the pipeline does when the run closes: send the report


def run_job(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    job = get_job(settings, args.name)
    result = loop.run(_run(settings, job, signals=True))
    return close_run(args, result, f"job {job.name}", f"stored in {safe_url(settings.database_url())}")


def serve_jobs(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    jobs = jobs_of(settings)
    engine = open_engine(settings.database_url())
    ensure_current(engine)

    async def main() -> None:
        stop = asyncio.Event()
        service = Service(jobs, engine, lambda job: _run(settings, job, stop))
        service.install_signals(stop.set)
        await service.serve()

    try:
        loop.run(main())
    finally:
        engine.dispose()
    return 0
