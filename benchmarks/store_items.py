#!/usr/bin/env python3
"""Benchmark: 100,000 small items through `pipelines.store` into SQLite, end to end.

The same path a crawl takes, without the network: items go through the
`Pipelines` runner into the store pipeline, gather in the outcome of their request
(one per "page" of 100 items), and are written by the journal's group commit
in transactions, off the event loop; the clock stops when the run is closed.
The database is a fresh SQLite file (WAL, synchronous=NORMAL, as a crawl
opens it). Three passes over one database:

- keyless: 100,000 items appended;
- keyed, first run: 100,000 items with a key (`item_key = ("sku",)`), all new;
- keyed, second run: the same keys again, one in ten with a changed price
  (updated in place, old versions to `item_history`).

Prints one JSON line per pass: items, seconds, items/s. Not a test: run it by hand.

usage: python benchmarks/store_items.py [-n 100000] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harvester.pipelines.store import StorePipeline  # noqa: E402

from harvester import Spider  # noqa: E402
from harvester.config import build  # noqa: E402
from harvester.outcome import Outcome  # noqa: E402
from harvester.pipeline import Pipelines  # noqa: E402
from harvester.run import Run  # noqa: E402
from harvester.stats import Stats  # noqa: E402
from harvester.storage.closing import close_run  # noqa: E402
from harvester.storage.database import open_engine  # noqa: E402
from harvester.storage.items import ItemRows  # noqa: E402
from harvester.storage.journal import Journal  # noqa: E402
from harvester.storage.migrate import ensure_current  # noqa: E402
from harvester.storage.runs import open_run  # noqa: E402

PER_PAGE = 100


class Plain(Spider):
    name = "plain"


class Keyed(Spider):
    name = "keyed"
    item_key = ("sku",)


async def one_run(url: str, spider: type[Spider], count: int, changed_every: int = 0) -> float:
    started = time.perf_counter()
    engine = open_engine(url)
    ensure_current(engine)
    run_id, _ = open_run(engine, spider.name)
    stats = Stats()
    spider_instance = spider()
    journal = Journal(engine, run_id, stats.as_json, item_rows=ItemRows(run_id, spider_instance))
    run = Run(run_id, spider_instance, build({}), engine, journal, None, stats)
    pipelines = Pipelines([StorePipeline()])
    await pipelines.open(run)
    journal.start()
    for page in range(0, count, PER_PAGE):
        outcome = Outcome(run_id, url=f"http://shop.example/page/{page // PER_PAGE}")
        context = run.for_request(outcome)
        for i in range(page, min(page + PER_PAGE, count)):
            price = 10 + i % 90 + (0.5 if changed_every and i % changed_every == 0 else 0)
            await pipelines.process({"sku": f"sku-{i:06d}", "title": f"Item {i}", "price": price}, context)
        journal.record(outcome)
        await asyncio.sleep(0)  # as the engine's workers do between requests: the writer runs
    await pipelines.close(run)
    await close_run(journal, "finished", stats)
    engine.dispose()
    assert stats.items == count
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="items per pass")
    parser.add_argument("--db", help="SQLite file (default: a new temporary one)")
    args = parser.parse_args()
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="harvester-bench-")) / "harvest.db"
    url = f"sqlite:///{path}"
    for name, spider, changed_every in (
        ("keyless", Plain, 0),
        ("keyed, first run", Keyed, 0),
        ("keyed, second run", Keyed, 10),
    ):
        seconds = asyncio.run(one_run(url, spider, args.n, changed_every))
        print(
            json.dumps(
                {"pass": name, "items": args.n, "seconds": round(seconds, 2), "items_per_s": round(args.n / seconds)}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
