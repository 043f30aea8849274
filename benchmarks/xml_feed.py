#!/usr/bin/env python3
"""Benchmark: a ~1 GB XML feed streamed over HTTP on loopback through XMLFeedSpider into SQLite.

Generates the feed with benchmarks/rig/gen_feed.py (once; reused after),
serves it from a separate process (stdlib ThreadingHTTPServer on 127.0.0.1),
and runs in child processes, one after the other:

- harvester: an XMLFeedSpider crawl of the feed URL (itertag "record"; id,
  title, price and sku of each record) with `pipelines.store` into a fresh
  SQLite database; every record must be stored;
- scrapy: `scrapy.utils.iterators.xmliter_lxml` over the same file read from
  disk, extracting the same fields (benchmarks/rig/xml_stream.py), in the
  venv at /tmp/scrapyvenv (`python3 -m venv /tmp/scrapyvenv &&
  /tmp/scrapyvenv/bin/pip install scrapy`).

Prints one JSON line per side (records, seconds, records/s, peak RSS of the
whole child process) and a summary with the ratio. Not a test: run it by hand.

usage: python benchmarks/xml_feed.py [--bytes 1000000000] [--feed PATH] [--no-scrapy]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE / "rig"  # copied from the shared benchmark rig, unchanged
SCRAPY_PYTHON = "/tmp/scrapyvenv/bin/python"

SERVER = """
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.func.log_message = lambda *a: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1_000_000_000, help="feed size to generate")
    parser.add_argument("--feed", type=Path, help="feed file (default /tmp/benchdata/feed-BYTES.xml)")
    parser.add_argument("--no-scrapy", action="store_true", help="measure harvester only")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.db)
    feed = args.feed or Path(f"/tmp/benchdata/feed-{args.bytes}.xml")
    expected = generate(feed, args.bytes)
    ours = measure_harvester(feed)
    print(json.dumps(ours), flush=True)
    if ours["records"] != expected:
        print(f"harvester stored {ours['records']} of {expected} records", file=sys.stderr)
    summary = {
        "feed_bytes": feed.stat().st_size,
        "records": expected,
        "harvester_records_per_s": ours["records_per_s"],
        "harvester_peak_rss_mb": ours["peak_rss_mb"],
        "all_stored": ours["records"] == expected,
    }
    if not args.no_scrapy:
        theirs = measure_scrapy(feed)
        print(json.dumps(theirs), flush=True)
        summary |= {
            "scrapy_records_per_s": theirs["records_per_s"],
            "scrapy_peak_rss_mb": theirs["peak_rss_mb"],
            "ratio": round(ours["records_per_s"] / theirs["records_per_s"], 2),
        }
    print(json.dumps(summary))
    return 0 if summary["all_stored"] else 1


def generate(feed: Path, size: int) -> int:
    """The feed's record count, generating the feed first when it is missing."""
    meta = feed.with_suffix(".json")
    if not (feed.exists() and meta.exists()):
        out = subprocess.run(
            [sys.executable, str(BENCH / "gen_feed.py"), "--out", str(feed), "--bytes", str(size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        meta.write_text(out)
    return int(json.loads(meta.read_text())["records"])


def measure_harvester(feed: Path) -> dict[str, object]:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(feed.parent)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as scratch:
            url = f"http://127.0.0.1:{port}/{feed.name}"
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, "--db", f"{scratch}/bench.db"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
    finally:
        server.terminate()
        server.wait()
    return json.loads(out.strip().splitlines()[-1])


def measure_scrapy(feed: Path) -> dict[str, object]:
    if not Path(SCRAPY_PYTHON).exists():
        raise SystemExit(
            f"{SCRAPY_PYTHON} not found: python3 -m venv /tmp/scrapyvenv && /tmp/scrapyvenv/bin/pip install scrapy"
        )
    out = subprocess.run(
        [SCRAPY_PYTHON, str(BENCH / "xml_stream.py"), "scrapy-xmliter_lxml", "--file", str(feed)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return {
        "side": "scrapy xmliter_lxml",
        "records": result["records"],
        "seconds": result["seconds"],
        "records_per_s": result["records_per_s"],
        "peak_rss_mb": result["peak_rss_mb"],
    }


def child(url: str, db: Path) -> int:
    """One crawl of the feed into `db`; prints its figures as one JSON line."""
    sys.path.insert(0, str(HERE.parent))
    from harvester import XMLFeedSpider

    class Feed(XMLFeedSpider):
        name = "benchfeed"
        start_urls = [url]
        itertag = "record"

        def parse_node(self, response, node):
            return {
                "id": node.xpath("@id").get(),
                "title": node.xpath("title/text()").get(),
                "price": node.xpath("price/text()").get(),
                "sku": node.xpath("sku/text()").get(),
            }

    return store_feed(Feed, Path(db), "harvester XMLFeedSpider -> SQLite")


def store_feed(spider: type, db: Path, side: str) -> int:
    """Crawl `spider` into the SQLite file `db` with pipelines.store; print its figures as one JSON line."""
    import sqlite3

    from harvester.config import build
    from harvester.crawler import crawl

    settings = build(
        {
            "project": {"pipelines": ["pipelines.store"]},
            "storage": {"url": f"sqlite:///{db}"},
            "fetch": {"obey_robots": False, "revalidate": False, "timeout": 60},
        },
        root=db.parent,
    )
    started = time.perf_counter()
    run = asyncio.run(crawl(settings, spider))
    seconds = time.perf_counter() - started
    with sqlite3.connect(db) as connection:
        records = connection.execute("select count(*) from items where run_id = ?", (run.id,)).fetchone()[0]
        errors = connection.execute("select kind, message from errors").fetchall()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "side": side,
                "status": run.status,
                "records": records,
                "seconds": round(seconds, 2),
                "records_per_s": round(records / seconds),
                "peak_rss_mb": round(peak, 1),
                "errors": errors[:3],
            }
        )
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
