#!/usr/bin/env python3
"""The XML benchmark feed as JSON and as CSV, streamed through JSONFeedSpider and CSVFeedSpider.

usage: python benchmarks/feed_formats.py [--bytes 1000000000] [--format json|csv]...

The records of `xml_feed.py`'s feed (generated first when missing) are
written once as `{"records": [{...}, ...]}` and as CSV with a header row, next
to it in /tmp/benchdata. Each is served over HTTP on 127.0.0.1 and crawled in
a child process into a fresh SQLite database by `pipelines.store`; one JSON
line per format gives records stored, records/s and the child's peak RSS.
Target: under 150 MB, every record stored. Exit status 1 when a record is missing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from xml_feed import SERVER, generate, store_feed  # noqa: E402 - the XML benchmark's feed, server, crawl

FIELDS = ("id", "title", "price", "sku", "category", "description", "url", "tags")


def records(feed: Path):
    """Each <record> of the XML feed as a dict of FIELDS, parsed in bounded memory."""
    for _, node in etree.iterparse(str(feed), tag="record", resolve_entities=False, no_network=True):
        yield {
            "id": node.get("id"),
            "title": node.findtext("title"),
            "price": node.findtext("price"),
            "sku": node.findtext("sku"),
            "category": node.findtext("category"),
            "description": node.findtext("description"),
            "url": node.findtext("url"),
            "tags": ";".join(tag.text or "" for tag in node.iterfind("tags/tag")),
        }
        node.clear(keep_tail=True)
        while node.getprevious() is not None:
            del node.getparent()[0]


def convert(feed: Path, kind: str) -> Path:
    """The feed as `kind` beside it, written once."""
    target = feed.with_name(f"{feed.stem}.records.{kind}")
    if target.exists():
        return target
    partial = target.with_suffix(".part")
    with partial.open("w", encoding="utf-8", newline="") as out:
        if kind == "csv":
            writer = csv.DictWriter(out, FIELDS)
            writer.writeheader()
            writer.writerows(records(feed))
        else:
            out.write('{"records": [\n')
            for index, record in enumerate(records(feed)):
                out.write((",\n" if index else "") + json.dumps(record, ensure_ascii=False))
            out.write("\n]}\n")
    partial.rename(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1_000_000_000, help="size of the XML feed they come from")
    parser.add_argument("--format", action="append", choices=["json", "csv"], help="default: both")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URL", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    feed = Path(f"/tmp/benchdata/feed-{args.bytes}.xml")
    expected = generate(feed, args.bytes)
    missing = False
    for kind in args.format or ["json", "csv"]:
        source = convert(feed, kind)
        result = measure(kind, source)
        result["feed_bytes"], result["all_stored"] = source.stat().st_size, result["records"] == expected
        missing |= not result["all_stored"]
        print(json.dumps(result), flush=True)
    return 1 if missing else 0


def measure(kind: str, source: Path) -> dict[str, object]:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(source.parent)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as scratch:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    kind,
                    f"http://127.0.0.1:{port}/{source.name}",
                    f"{scratch}/bench.db",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
    finally:
        server.terminate()
        server.wait()
    return json.loads(out.strip().splitlines()[-1])


def child(kind: str, url: str, db: str) -> int:
    """One crawl of the feed into `db`; prints its figures as one JSON line."""
    sys.path.insert(0, str(HERE.parent))
    from harvester import CSVFeedSpider, JSONFeedSpider

    class JSONFeed(JSONFeedSpider):
        name = "benchjson"
        start_urls = [url]
        item_path = "records.item"

        def parse_record(self, response, record):
            return {"id": record["id"], "title": record["title"], "price": record["price"], "sku": record["sku"]}

    class CSVFeed(CSVFeedSpider):
        name = "benchcsv"
        start_urls = [url]

        def parse_row(self, response, row):
            return {"id": row["id"], "title": row["title"], "price": row["price"], "sku": row["sku"]}

    spider = JSONFeed if kind == "json" else CSVFeed
    return store_feed(spider, Path(db), f"harvester {kind} feed -> SQLite")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
