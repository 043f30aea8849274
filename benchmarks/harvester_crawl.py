#!/usr/bin/env python3
"""Harvester on the benchmark site: the same work as benchmarks/rig/scrapy_crawl.py.

Crawls http://127.0.0.1:8088/index.html (same host, robots.txt obeyed, dedupe,
persistent frontier), extracts the microdata record of every page into an item
stored in SQLite by the store pipeline, and prints one JSON line: pages, items,
seconds, pages/s, CPU seconds and peak RSS of all its processes together.

usage: python benchmarks/harvester_crawl.py [-c 64] [-p PROCESSES] [--base URL] [-s section.key=value]...

With -p 2, two `harvester worker` processes share the run's frontier.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SPIDER = """
from harvester import Spider


class BenchSite(Spider):
    name = "benchsite"
    allowed_domains = ["127.0.0.1"]
    base = "http://127.0.0.1:8088"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/index.html"]

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
"""


def project(concurrency: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="harvester-bench-"))
    (root / "spiders").mkdir()
    (root / "spiders" / "__init__.py").write_text("")
    (root / "spiders" / "bench.py").write_text(SPIDER)
    (root / "harvester.toml").write_text(
        textwrap.dedent(f"""
        [project]
        spiders = ["spiders"]
        pipelines = ["store"]

        [storage]
        url = "sqlite:///harvest.db"

        [fetch]
        concurrency = {concurrency}
        per_host = {concurrency}
        user_agent = "benchbot/1.0"
        retries = 1
        revalidate = false
        """)
    )
    return root


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--concurrency", type=int, default=64, help="requests in flight per process")
    parser.add_argument("-p", "--processes", type=int, default=1)
    parser.add_argument("--base", default="http://127.0.0.1:8088")
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    root = project(args.concurrency)
    command = "crawl" if args.processes == 1 else "worker"
    extra = [item for setting in args.settings for item in ("-s", setting)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # The database is created once, as a deployment would (`harvester db upgrade`), so
    # the crawling processes never load Alembic: their RSS is the crawl's own.
    subprocess.run(
        [sys.executable, "-m", "harvester", "db", "upgrade"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL
    )
    began = time.perf_counter()
    processes = []
    for index in range(args.processes):
        timing = root / f"time-{index}.txt"
        processes.append(
            (
                timing,
                subprocess.Popen(
                    [
                        "/usr/bin/time",
                        "-v",
                        "-o",
                        str(timing),
                        sys.executable,
                        "-m",
                        "harvester",
                        command,
                        "benchsite",
                        "-a",
                        f"base={args.base}",
                        *extra,
                    ],
                    cwd=root,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    failed = 0
    for _, process in processes:
        _, err = process.communicate()
        if process.returncode:
            failed += 1
            print(err[-2000:], file=sys.stderr)
    seconds = time.perf_counter() - began
    cpu = rss = 0.0
    for timing, _ in processes:
        text = timing.read_text()
        cpu += sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
        rss += int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    with sqlite3.connect(root / "harvest.db") as connection:
        (items,) = connection.execute("select count(*) from items").fetchone()
        (pages_200,) = connection.execute("select count(*) from pages where status = 200").fetchone()
        (status_404,) = connection.execute("select count(*) from pages where status = 404").fetchone()
        (robots,) = connection.execute("select count(*) from errors where kind = 'robots'").fetchone()
        (refetched,) = connection.execute("select count(*) - count(distinct url) from pages").fetchone()
        (status,) = connection.execute("select status from runs order by id desc limit 1").fetchone()
    print(
        json.dumps(
            {
                "crawler": f"harvester x{args.processes}",
                "concurrency": args.concurrency,
                "status": status,
                "pages_200": pages_200,
                "status_404": status_404,
                "items": items,
                "robots_forbidden": robots,
                "fetched_twice": refetched,
                "crawl_s": round(seconds, 2),
                "pages_per_s": round(pages_200 / seconds, 1),
                "cpu_s": round(cpu, 1),
                "peak_rss_mb_total": round(rss, 1),
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
