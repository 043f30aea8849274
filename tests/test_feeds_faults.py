"""A malformed feed keeps the records before its fault and costs one `parse` error row,
whatever the format or the way it breaks; the crawl goes on to the next feed."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
from conftest import Site

from harvester import CSVFeedSpider, JSONFeedSpider, SitemapSpider, XMLFeedSpider
from harvester.config import build
from harvester.crawler import crawl

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


class Xml(XMLFeedSpider):
    name = "xml_faults"
    itertag = "r"

    def parse_node(self, response, node):
        return {"n": node.xpath("text()").get()}


class Csv(CSVFeedSpider):
    name = "csv_faults"

    def parse_row(self, response, row):
        return {"n": row["n"]}


class Json(JSONFeedSpider):
    name = "json_faults"

    def parse_record(self, response, record):
        return {"n": str(record)}


def gzipped_then_cut(data: bytes) -> bytes:
    """`data` gzipped, with its second half replaced by bytes that are not deflate."""
    packed = gzip.compress(data, compresslevel=1)
    return packed[: len(packed) // 2] + b"\xff" * 64


XML_RECORDS = b"<rs>" + b"".join(b"<r>%d</r>" % i for i in range(20000))
CSV_RECORDS = b"n\n" + b"".join(b"%d\n" % i for i in range(20000))
JSON_RECORDS = b"[" + b",".join(b"%d" % i for i in range(20000))

CASES = {
    "xml, a bad tag": (Xml, b"<rs><r>0</r><r>1</r><r>2</oops></rs>", "application/xml", 2),
    "xml, cut short": (Xml, b"<rs><r>0</r><r>1</r><r>2", "application/xml", 2),
    "xml, corrupt gzip": (Xml, gzipped_then_cut(XML_RECORDS + b"</rs>"), "application/gzip", None),
    "csv, a quote left open": (Csv, b'n\n0\n1\n"2\n', "text/csv", 2),
    "csv, corrupt gzip": (Csv, gzipped_then_cut(CSV_RECORDS), "application/gzip", None),
    "json, a bad token": (Json, b"[0, 1, nope, 3]", "application/json", 2),
    "json, cut short": (Json, b"[0, 1, [2", "application/json", 2),
    "json, corrupt gzip": (Json, gzipped_then_cut(JSON_RECORDS + b"]"), "application/gzip", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_feed_keeps_the_records_before_and_costs_one_parse_error(tmp_path: Path, site: Site, sql, case):
    spider, body, content_type, kept = CASES[case]
    site.routes["/bad"] = lambda h: h.send_text(200, body, content_type)
    good = {Xml: b"<rs><r>ok</r></rs>", Csv: b"n\nok\n", Json: b'["ok"]'}[spider]
    site.routes["/good"] = lambda h: h.send_text(200, good, content_type.replace("gzip", "octet-stream"))
    spider.start_urls = [site.url + "/bad", site.url + "/good"]
    result = asyncio.run(crawl(build({"fetch": {"obey_robots": False, "retries": 0}}, root=tmp_path), spider))
    got = [json.loads(row[0])["n"] for row in sql(tmp_path, "select data from items where url like '%/bad'")]
    if kept is None:  # as many as the readable half holds: some, in order, from the first
        assert 0 < len(got) < 20000
        kept = len(got)
    assert got == [str(n) for n in range(kept)]
    assert sql(tmp_path, "select json_extract(data, '$.n') from items where url like '%/good'") == [("ok",)]
    [(kind, url)] = sql(tmp_path, "select kind, url from errors")
    assert (kind, url) == ("parse", site.url + "/bad")
    assert result.status == "finished"


def test_a_malformed_sitemap_keeps_the_pages_listed_before_the_fault(tmp_path: Path, site: Site, sql):
    site.page(
        "/sitemap.xml",
        f'<?xml version="1.0"?><urlset {NS}><url><loc>{site.url}/a</loc></url>'
        f"<url><loc>{site.url}/b</loc></url><url><loc>{site.url}/c</oops></url></urlset>",
        content_type="application/xml",
    )
    for page in ("/a", "/b", "/c"):
        site.page(page, "<h1>page</h1>")

    class Pages(SitemapSpider):
        name = "sitemap_faults"
        sitemap_urls = [site.url + "/sitemap.xml"]

        def parse(self, response):
            return {"url": response.url}

    asyncio.run(crawl(build({"fetch": {"obey_robots": False, "retries": 0}}, root=tmp_path), Pages))
    assert sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.url') from items")) == [
        site.url + "/a",
        site.url + "/b",
    ]
    assert sql(tmp_path, "select kind from errors") == [("parse",)]
    assert site.hits["/c"] == 0
