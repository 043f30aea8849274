#!/usr/bin/env python3
"""Harvester on the benchmark site: the same work as ../shared/bench/scrapy_crawl.py.

Crawls http://127.0.0.1:8088/index.html (same host, robots.txt obeyed, dedupe,
persistent frontier), extracts the microdata record of every page into an item
stored in SQLite by pipelines.store, and prints one JSON line: pages, items,
seconds, pages/s.

usage: python benchmarks/harvester_crawl.py [-c 64] [--base URL] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl


class BenchSite(Spider):
    name = "benchsite"
    allowed_domains = ["127.0.0.1"]

    def parse(self, response):
        sku = response.css('[itemprop="sku"]::text').get()
        if sku:
            yield {
                "url": response.url,
                "title": response.css("title::text").get(),
                "name": response.css('[itemprop="name"]::text').get(),
                "price": response.css('[itemprop="price"]::attr(content)').get(),
                "sku": sku,
            }
        for link in response.links():
            yield response.follow(link, callback=self.parse)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--base", default="http://127.0.0.1:8088")
    parser.add_argument("--db", help="SQLite file (default: a new temporary one)")
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="harvester-bench-"))
    db = Path(args.db) if args.db else root / "harvest.db"
    data = {
        "project": {"pipelines": ["pipelines.store"]},
        "storage": {"url": f"sqlite:///{db}"},
        "fetch": {"concurrency": args.concurrency, "per_host": args.concurrency, "user_agent": "benchbot/1.0",
                  "retries": 1, "revalidate": False},
    }
    for setting in args.settings:
        key, _, value = setting.partition("=")
        section, _, name = key.partition(".")
        data.setdefault(section, {})[name] = json.loads(value) if value[:1] in "0123456789tf[{\"" else value
    BenchSite.start_urls = [args.base + "/index.html"]
    began = time.perf_counter()
    run = asyncio.run(crawl(build(data, root=root), BenchSite))
    seconds = time.perf_counter() - began
    with sqlite3.connect(db) as connection:
        (items,) = connection.execute("select count(*) from items").fetchone()
        (pages_200,) = connection.execute("select count(*) from pages where status = 200").fetchone()
        (status_404,) = connection.execute("select count(*) from pages where status = 404").fetchone()
    print(json.dumps({
        "crawler": "harvester", "concurrency": args.concurrency, "status": run.status,
        "pages_200": pages_200, "status_404": status_404, "items": items,
        "robots_forbidden": run.stats.error_kinds.get("robots", 0),
        "crawl_s": round(seconds, 2), "pages_per_s": round(pages_200 / seconds, 1),
    }))
    return 0 if run.status == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
