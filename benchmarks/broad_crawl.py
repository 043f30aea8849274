#!/usr/bin/env python3
"""A broad crawl: many hosts, a per-host delay, 1, 2 and 4 workers on PostgreSQL, and Scrapy.

    python benchmarks/broad_crawl.py [--hosts 200] [--pages 50] [--delay 1.0]

The site: `--hosts` hosts, each its own loopback address (127.0.1.1, 127.0.1.2,
... : all of 127.0.0.0/8 reaches loopback on Linux), served by one asyncio
server; page k of a host links to its page k+1 and to page k of the next host.
Each request's arrival is logged by the server. A private PostgreSQL cluster
is made with initdb in a temporary directory (as tests/pg.py does).

Harvester runs with `per_host = 1` and `delay = --delay`, with 1, 2 and 4
`harvester worker` processes sharing one run; Scrapy (its venv at
/tmp/scrapyvenv: python3 -m venv /tmp/scrapyvenv && /tmp/scrapyvenv/bin/pip
install scrapy) with CONCURRENT_REQUESTS_PER_DOMAIN = 1 and the same
DOWNLOAD_DELAY, not randomized. For each: pages/s (from the server's log),
that as a share of the politeness bound (hosts / delay), the median and 95th
percentile claim latency (Harvester's workers log them), and the smallest
gap the server saw between two requests to one host. Nothing leaves 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
from pg import _as_postgres, _binary, _free_port  # noqa: E402  (the tests' private-cluster helpers)

SCRAPY = Path("/tmp/scrapyvenv/bin/python")


def address(n: int) -> str:
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


# -- the site: one process, one asyncio server listening on every host's address --------------


def serve(hosts: int, pages: int, port: int, log_path: str) -> None:
    hits: list[tuple[str, str, float]] = []
    index = {address(n): n for n in range(hosts)}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("sockname")[0]
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                arrived = time.monotonic()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                path = line.split()[1].decode()
                hits.append((host, path, arrived))
                n = index[host]
                if path == "/":
                    body = '<a href="/p/0">start</a>'
                else:
                    k = int(path.rsplit("/", 1)[1])
                    links = [f'<a href="/p/{k + 1}">next</a>'] if k + 1 < pages else []
                    links.append(f'<a href="http://{address((n + 1) % hosts)}:{port}/p/{k}">across</a>')
                    body = f"<h1>{host} {k}</h1>" + "".join(links)
                data = body.encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
                )
                await writer.drain()
        except (ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, host=[address(n) for n in range(hosts)], port=port, backlog=1024)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: dump())
        loop.add_signal_handler(signal.SIGTERM, stop.set)

        def dump() -> None:
            Path(log_path).write_text(json.dumps(hits))
            hits.clear()

        async with server:
            await stop.wait()

    asyncio.run(main())


class Site:
    def __init__(self, hosts: int, pages: int, workdir: Path) -> None:
        self.hosts, self.pages = hosts, pages
        self.port = _free_port()
        self.log = workdir / "hits.json"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(hosts), str(pages), str(self.port), str(self.log)]
        )
        time.sleep(1.0)

    def starts(self) -> list[str]:
        return [f"http://{address(n)}:{self.port}/" for n in range(self.hosts)]

    def take_log(self) -> list[tuple[str, str, float]]:
        """The requests since the last call: (host, path, arrival)."""
        self.log.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        while not self.log.exists():
            time.sleep(0.05)
        time.sleep(0.2)
        return [tuple(hit) for hit in json.loads(self.log.read_text())]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def figures(hits: list[tuple[str, str, float]], hosts: int, delay: float) -> dict[str, float]:
    by_host: dict[str, list[float]] = collections.defaultdict(list)
    for host, _path, arrived in hits:
        by_host[host].append(arrived)
    gaps = [b - a for times in by_host.values() for a, b in zip(sorted(times), sorted(times)[1:])]
    seconds = max(t for *_, t in hits) - min(t for *_, t in hits)
    rate = len(hits) / seconds
    bound = hosts / delay
    repeats = len(hits) - len({(host, path) for host, path, _ in hits})
    return {
        "pages": len(hits),
        "seconds": round(seconds, 1),
        "pages_per_s": round(rate, 1),
        "share_of_bound": round(rate / bound, 3),
        "min_gap_s": round(min(gaps), 3),
        "fetched_twice": repeats,
    }


# -- PostgreSQL --------------------------------------------------------------------------------


class Postgres:
    def __init__(self) -> None:
        initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not initdb or not self.pg_ctl:
            sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="broad-pg-", dir="/tmp"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        subprocess.run(
            _as_postgres([initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        self.port = _free_port()
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c max_connections=200"
        )
        subprocess.run(
            _as_postgres(
                [self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )

    def new_database(self) -> str:
        import psycopg

        name = "broad_" + uuid.uuid4().hex[:8]
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'create database "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        subprocess.run(
            _as_postgres([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(self.root, ignore_errors=True)


# -- the crawlers ------------------------------------------------------------------------------

HARVESTER_SPIDER = """
from harvester import Spider

class Broad(Spider):
    name = "broad"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = open(self.base).read().split()

    def parse(self, response):
        yield {"url": response.url}
        yield from response.follow_all()
"""

SCRAPY_SCRIPT = """
import sys, time
import scrapy
from scrapy.crawler import CrawlerProcess

starts = open(sys.argv[1]).read().split()

class Broad(scrapy.Spider):
    name = "broad"
    start_urls = starts

    def parse(self, response):
        yield {"url": response.url}
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)

process = CrawlerProcess({
    "DOWNLOAD_DELAY": float(sys.argv[2]), "RANDOMIZE_DOWNLOAD_DELAY": False,
    "CONCURRENT_REQUESTS": 64, "CONCURRENT_REQUESTS_PER_DOMAIN": 1, "CONCURRENT_REQUESTS_PER_IP": 0,
    "ROBOTSTXT_OBEY": False, "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
    "DEPTH_PRIORITY": 0, "COOKIES_ENABLED": False, "USER_AGENT": "scrapy-bench",
})
process.crawl(Broad)
process.start()
"""


def harvester_run(
    site: Site, postgres: Postgres, workers: int, delay: float, concurrency: int, workdir: Path
) -> dict[str, float]:
    project = workdir / f"harvester-{workers}"
    (project / "spiders").mkdir(parents=True)
    (project / "spiders" / "__init__.py").write_text("")
    (project / "spiders" / "broad.py").write_text(HARVESTER_SPIDER)
    starts = workdir / "starts.txt"
    starts.write_text("\n".join(site.starts()))
    (project / "harvester.toml").write_text(f"""
[project]
spiders = ["spiders"]
pipelines = ["pipelines.store"]

[storage]
url = "{postgres.new_database()}"

[fetch]
concurrency = {concurrency}
per_host = 1
delay = {delay}
timeout = 30
obey_robots = false
""")
    command = [sys.executable, "-m", "harvester", "worker", "broad", "-a", f"base={starts}"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    began = time.monotonic()
    processes = [
        subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(workers)
    ]
    outputs = [process.communicate() for process in processes]
    wall = time.monotonic() - began
    for process, (_out, err) in zip(processes, outputs):
        if process.returncode:
            sys.exit(f"a worker failed:\n{err[-3000:]}")
    claims = [
        tuple(float(x) for x in found.groups())
        for _out, err in outputs
        if (found := re.search(r"claims: \d+, median ([\d.]+) ms, 95th percentile ([\d.]+) ms", err))
    ]
    result = figures(site.take_log(), site.hosts, delay)
    result["wall_s"] = round(wall, 1)
    result["claim_median_ms"] = round(max(c[0] for c in claims), 1) if claims else float("nan")
    result["claim_p95_ms"] = round(max(c[1] for c in claims), 1) if claims else float("nan")
    return result


def scrapy_run(site: Site, delay: float, workdir: Path) -> dict[str, float]:
    script = workdir / "scrapy_broad.py"
    script.write_text(SCRAPY_SCRIPT)
    starts = workdir / "starts.txt"
    starts.write_text("\n".join(site.starts()))
    began = time.monotonic()
    done = subprocess.run([str(SCRAPY), str(script), str(starts), str(delay)], capture_output=True, text=True)
    wall = time.monotonic() - began
    if done.returncode:
        sys.exit(f"Scrapy failed:\n{done.stderr[-3000:]}")
    result = figures(site.take_log(), site.hosts, delay)
    result["wall_s"] = round(wall, 1)
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        hosts, pages, port, log = sys.argv[2:6]
        serve(int(hosts), int(pages), int(port), log)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight per Harvester worker")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--no-scrapy", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="broad-"))
    site = Site(args.hosts, args.pages, workdir)
    postgres = Postgres()
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        site.take_log()
        for workers in [int(n) for n in args.workers.split(",")]:
            rows.append(
                (f"harvester x{workers}", harvester_run(site, postgres, workers, args.delay, args.concurrency, workdir))
            )
            print(rows[-1], flush=True)
        if not args.no_scrapy and SCRAPY.exists():
            rows.append(("scrapy", scrapy_run(site, args.delay, workdir)))
            print(rows[-1], flush=True)
    finally:
        postgres.close()
        site.close()
        shutil.rmtree(workdir, ignore_errors=True)
    total = args.hosts * (args.pages + 1)
    print(
        f"\n{args.hosts} hosts x {args.pages} pages (+ /) = {total} pages, delay {args.delay} s, per host 1: "
        f"politeness bound {args.hosts / args.delay:.0f} pages/s"
    )
    print(
        f"{'crawler':<14} {'pages':>6} {'pages/s':>8} {'of bound':>9} {'claim ms (median/p95)':>22} "
        f"{'min gap s':>10} {'twice':>6} {'wall s':>7}"
    )
    for label, row in rows:
        claim = f"{row['claim_median_ms']}/{row['claim_p95_ms']}" if "claim_median_ms" in row else "-"
        print(
            f"{label:<14} {row['pages']:>6} {row['pages_per_s']:>8} {row['share_of_bound']:>9.1%} {claim:>22} "
            f"{row['min_gap_s']:>10} {row['fetched_twice']:>6} {row['wall_s']:>7}"
        )


if __name__ == "__main__":
    main()
