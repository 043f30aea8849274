"""JSONFeedSpider: records streamed from `item_path`; bad tokens, deep nesting, big records."""

from __future__ import annotations

import asyncio
import io
import json
import random
from pathlib import Path

import ijson
import pytest
from conftest import Site
from feed_measure import endless, measured_crawl, streamed

from harvester import JSONFeedSpider
from harvester.config import build
from harvester.crawler import crawl
from harvester.feeds.json import iter_records
from harvester.request import Request
from harvester.response import Response


class Records(JSONFeedSpider):
    name = "records"
    item_path = "data.item"

    def parse_record(self, response, record):
        yield record


def run(tmp_path: Path, spider: type, urls: list[str], **fetch: object):
    spider.start_urls = urls
    options = {"fetch": {"obey_robots": False, "retries": 0, "timeout": 5, **fetch}}
    return asyncio.run(crawl(build(options, root=tmp_path), spider))


def stored(sql, tmp_path: Path) -> list[dict]:
    return [json.loads(row[0]) for row in sql(tmp_path, "select data from items order by id")]


FEED = {
    "meta": {"count": 3, "data": ["not", "these"]},
    "data": [
        {"sku": "1", "title": "Dune", "price": 9.99, "tags": ["sf", "classic"]},
        {"sku": "2", "title": "Emma", "price": 4, "stock": {"shelf": "B", "n": 2}},
        {"sku": "3", "title": "Ulysses", "price": None},
    ],
}


def test_records_at_item_path_are_streamed_one_by_one(tmp_path, site: Site, sql):
    site.page("/feed.json", json.dumps(FEED), content_type="application/json")
    result = run(tmp_path, Records, [site.url + "/feed.json"])
    assert stored(sql, tmp_path) == FEED["data"]
    assert result.stats.errors == 0


def test_json_lines_are_read_with_an_empty_item_path(tmp_path, sql):
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(record) for record in FEED["data"]) + "\n")

    class Lines(Records):
        name = "lines"
        item_path = ""

    run(tmp_path, Lines, [feed.as_uri()])
    assert stored(sql, tmp_path) == FEED["data"]


def test_a_bad_token_keeps_the_records_before_it_and_the_crawl_goes_on(tmp_path, site: Site, sql):
    site.page(
        "/bad.json",
        '{"data": [{"sku": "1"}, {"sku": "2"}, {"sku": nope}, {"sku": "4"}]}',
        content_type="application/json",
    )
    site.page("/good.json", '{"data": [{"sku": "9"}]}', content_type="application/json")
    result = run(tmp_path, Records, [site.url + "/bad.json", site.url + "/good.json"])
    assert sorted(record["sku"] for record in stored(sql, tmp_path)) == ["1", "2", "9"]
    [(kind, url, message)] = sql(tmp_path, "select kind, url, message from errors")
    assert (kind, url) == ("parse", site.url + "/bad.json")
    assert message.startswith("JSON record 3: bad JSON") and "bytes" in message
    assert result.status == "finished"


def test_a_truncated_document_is_a_parse_error_after_its_whole_records(tmp_path, site: Site, sql):
    site.page("/cut.json", '{"data": [{"sku": "1"}, {"sku": "2"}, {"sku": "3", "ti', content_type="application/json")
    run(tmp_path, Records, [site.url + "/cut.json"])
    assert [record["sku"] for record in stored(sql, tmp_path)] == ["1", "2"]
    [(kind, message)] = sql(tmp_path, "select kind, message from errors")
    assert kind == "parse" and message.startswith("JSON record 3")


def test_nesting_deeper_than_1000_levels_is_a_parse_error(tmp_path, site: Site, sql):
    deep = "[" * 1500 + "]" * 1500
    site.page("/deep.json", '{"data": [{"sku": "1"}, ' + deep + ', {"sku": "3"}]}', content_type="application/json")
    run(tmp_path, Records, [site.url + "/deep.json"])
    assert stored(sql, tmp_path) == [{"sku": "1"}]
    [(kind, message)] = sql(tmp_path, "select kind, message from errors")
    assert kind == "parse" and "deeper than 1000 levels" in message and "record 2" in message


def test_a_record_larger_than_the_limit_is_a_parse_error(tmp_path, sql):
    feed = tmp_path / "big.json"
    big = {"sku": "2", "blob": ["x" * 1000] * 2000}  # ~2 MB
    feed.write_text(json.dumps({"data": [{"sku": "1"}, big, {"sku": "3"}]}))

    class Bounded(Records):
        name = "bounded"
        max_record_size = "256KB"

    run(tmp_path, Bounded, [feed.as_uri()])
    assert stored(sql, tmp_path) == [{"sku": "1"}]
    [(kind, message)] = sql(tmp_path, "select kind, message from errors")
    assert kind == "parse" and "record 2" in message and "over 262144 bytes" in message


CLI_SPIDER = """
from harvester import JSONFeedSpider

class Feed(JSONFeedSpider):
    name = "jfeed"
    item_path = "data.item"
    url = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.url]

    def parse_record(self, response, record):
        return record if isinstance(record, dict) else {"value": record}
"""


def test_a_million_open_brackets_are_refused_while_they_stream_in_bounded_memory(project, site):
    body = b'{"data": [{"sku": "1"}, ' + b"[" * 1_000_000
    site.routes["/deep.json"] = lambda h: h.send_text(200, body, "application/json")
    project.spider("jfeed", CLI_SPIDER)
    crawl = measured_crawl(project, "jfeed", "-a", f"url={site.url}/deep.json")
    print(f"peak RSS {crawl.peak_mb:.0f} MB, {crawl.cpu_seconds:.2f} s CPU")
    assert crawl.returncode == 0, crawl.stderr
    assert project.sql("select json_extract(data, '$.sku') from items") == [("1",)]
    [(kind, message)] = project.sql("select kind, message from errors")
    assert kind == "parse" and "record 2: nested deeper than 1000 levels" in message
    assert crawl.peak_mb < 150, f"peak RSS {crawl.peak_mb:.0f} MB"  # was 10 GB: each event carried its prefix


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b'{"meta": {"note": "', "record 1: a single value is over 16777216 bytes"),  # outside item_path
        (b'{"data": [{"sku": "1"}, {"blob": "', "record 2: record is over 16777216 bytes"),  # inside a record
    ],
)
def test_an_endless_string_is_refused_past_max_size_in_bounded_memory(project, site, head, what):
    site.routes["/endless.json"] = streamed(endless(head, b"x"), "application/json")
    project.spider("jfeed", CLI_SPIDER)
    crawl = measured_crawl(project, "jfeed", "-a", f"url={site.url}/endless.json", "-s", 'fetch.max_size="16MB"')
    print(f"peak RSS {crawl.peak_mb:.0f} MB, {crawl.cpu_seconds:.2f} s CPU")
    assert crawl.returncode == 0, crawl.stderr
    [(kind, message)] = project.sql("select kind, message from errors")
    assert kind == "parse" and what in message
    assert project.sql("select count(*) from items") == [(1 if b"sku" in head else 0,)]
    assert crawl.peak_mb < 150, f"peak RSS {crawl.peak_mb:.0f} MB"  # 16 MB of string, not the stream


def records_of(data: bytes, item_path: str, piece: int) -> list:
    """iter_records over `data` arriving `piece` bytes at a time."""

    async def pieces():
        for start in range(0, len(data), piece):
            yield data[start : start + piece]

    async def collect():
        response = Response("http://feed.test/f.json", 200, request=Request("http://feed.test/f.json"))
        response.stream, response.streamed = pieces(), True
        return [record async for record in iter_records(response, item_path, limit=1 << 30)]

    return asyncio.run(collect())


def test_records_are_the_values_ijson_finds_at_item_path_whatever_the_pieces():
    chooser = random.Random(12)
    keys = ["a", "b", "item", "a.b", "", "data"]

    def value(depth: int = 0):
        roll = chooser.random()
        if depth > 4 or roll < 0.3:
            return chooser.choice([1, "x", None, True, 2.5, "s.t", "ü"])
        if roll < 0.65:
            return [value(depth + 1) for _ in range(chooser.randint(0, 3))]
        return {chooser.choice(keys): value(depth + 1) for _ in range(chooser.randint(0, 3))}

    paths = ["item", "a", "a.item", "a.b", "item.item", "", "data.item", ".item", "a.b.item", "item.a"]
    for _ in range(300):
        data = json.dumps(value(), ensure_ascii=False).encode()
        for path in paths:
            expected = list(ijson.items(io.BytesIO(data), path, use_float=True))
            assert records_of(data, path, len(data)) == expected, (data, path)
            assert records_of(data, path, 3) == expected, (data, path)


def test_a_gzipped_feed_bomb_inflates_piece_by_piece_in_bounded_memory(project, site):
    """A feed file that is gzip (sniffed by its magic bytes, no Content-Encoding): a whitespace
    bomb after one record inflates only as the parser takes it, never a whole chunk at once."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    body = packer.compress(b'{"data": [{"sku": "1"}, ')
    zeros = b" " * (1 << 20)
    body += b"".join(packer.compress(zeros) for _ in range(200))  # 200 MiB of spaces, 200 KB packed
    body += packer.compress(b'{"sku": "2"}]}') + packer.flush()
    assert zlib.decompressobj(31).decompress(body[:100])[:10] == b'{"data": ['
    site.routes["/bomb.json.gz"] = lambda h: h.send_text(200, body, "application/octet-stream")
    project.spider("jfeed", CLI_SPIDER)
    crawl = measured_crawl(project, "jfeed", "-a", f"url={site.url}/bomb.json.gz", timeout=300)
    print(f"peak RSS {crawl.peak_mb:.0f} MB, {crawl.cpu_seconds:.2f} s CPU")
    assert crawl.returncode == 0, crawl.stderr
    assert project.sql("select kind, message from errors") == []
    assert project.sql("select json_extract(data, '$.sku') from items order by id") == [("1",), ("2",)]
    assert crawl.peak_mb < 150, f"peak RSS {crawl.peak_mb:.0f} MB"  # not the inflated 200 MiB
