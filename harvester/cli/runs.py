"""`harvester runs [--run N]`: the runs in the harvest database; a shared run's workers and queue."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from harvester.cli.options import add_db_option, settings_from
from harvester.exceptions import ConfigError
from harvester.storage.database import open_engine
from harvester.storage.live import queue_of, recent_runs
from harvester.storage.migrate import ensure_current
from harvester.storage.tables import runs
from harvester.utc import now


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "runs", parents=[common], help="list runs; with --run N, one run's live workers, queue and waiting hosts"
    )
    parser.add_argument("--run", type=int, metavar="N", help="show run N in detail")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = open_engine(settings_from(args).database_url(), must_exist=True)
    try:
        ensure_current(engine)
        with engine.connect() as connection:
            if args.run is None:
                print_runs(recent_runs(connection))
                return 0
            row = connection.execute(runs.select().where(runs.c.id == args.run)).first()
            if row is None:
                raise ConfigError(f"no run {args.run} in the harvest database")
            print_runs([row])
            print_queue(queue_of(connection, args.run))
    finally:
        engine.dispose()
    return 0


def print_runs(rows: list[Any]) -> None:
    print(f"{'run':>5}  {'spider':<20} {'status':<11} {'started (UTC)':<19}  {'pages':>7} {'items':>7}")
    for row in rows:
        stats = row.stats or {}
        print(
            f"{row.id:>5}  {row.spider:<20} {row.status:<11} {_when(row.started_at):<19}  "
            f"{stats.get('pages', 0):>7} {stats.get('items', 0):>7}"
        )


def print_queue(queue: Any) -> None:
    print(f"\nqueued {queue.queued}, claimed {queue.claimed}, hosts waiting {queue.hosts_waiting}")
    if not queue.workers:
        print("no live workers")
        return
    print(f"\n{'worker':<12} {'host':<24} {'pid':>7}  {'last heartbeat':<16} {'held':>5}")
    for worker in queue.workers:
        ago = (now() - worker.heartbeat_at).total_seconds()
        print(f"{worker.id[:12]:<12} {worker.host[:24]:<24} {worker.pid:>7}  {f'{ago:.1f} s ago':<16} {worker.held:>5}")


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"
