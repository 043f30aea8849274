"""Scrapy's own feed and sitemap samples give the records Scrapy's tests expect.

The bytes are in tests/data/scrapy/ (see its README for their source and
commit); each test serves them from a loopback server to Harvester's feed
spiders and compares what was stored with what Scrapy's test asserts.
Several of these documents open with blank lines before `<?xml`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import Site

from harvester import CSVFeedSpider, SitemapSpider, XMLFeedSpider
from harvester.config import build
from harvester.crawler import crawl

DATA = Path(__file__).parent / "data" / "scrapy"
GOOGLE_NS = "http://base.google.com/ns/1.0"
UNICODE = "\xfan\xedc\xf3d\xe9\u203d"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def run(tmp_path: Path, spider: type, urls: list[str], attribute: str = "start_urls") -> Any:
    setattr(spider, attribute, urls)
    options = {"fetch": {"obey_robots": False, "retries": 0, "timeout": 5}}
    return asyncio.run(crawl(build(options, root=tmp_path), spider))


def stored(sql, tmp_path: Path) -> list[Any]:
    return [json.loads(row[0]) for row in sql(tmp_path, "select data from items order by id")]


def errors(sql, tmp_path: Path) -> list[tuple[str, str]]:
    return sql(tmp_path, "select kind, message from errors")


def xml_records(
    tmp_path, site: Site, sql, name: str, itertag: str, record, namespaces: Sequence[tuple[str, str]] = ()
) -> list[Any]:
    """What an XMLFeedSpider stores from the sample `name`: `record(node)` for each `itertag`."""
    site.routes["/" + name] = lambda h: h.send_text(200, sample(name), "application/xml")

    class Feed(XMLFeedSpider):
        name = "scrapy_xml"

        def parse_node(self, response, node):
            return {"record": record(node)}

    Feed.itertag, Feed.namespaces = itertag, namespaces
    run(tmp_path, Feed, [f"{site.url}/{name}"])
    assert errors(sql, tmp_path) == []
    return [json.loads(json.dumps(item["record"])) for item in stored(sql, tmp_path)]


def as_lists(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples as JSON stores them


# tests/test_utils_iterators.py: TestXmliter


def test_xmliter_products_after_blank_lines(tmp_path, site, sql):
    got = xml_records(
        tmp_path,
        site,
        sql,
        "xmliter.xml",
        "product",
        lambda x: (x.attrib["id"], x.xpath("name/text()").getall(), x.xpath("./type/text()").getall()),
    )
    assert got == as_lists([("001", ["Name 1"], ["Type 1"]), ("002", ["Name 2"], ["Type 2"])])


def test_xmliter_unusual_node(tmp_path, site, sql):
    got = xml_records(
        tmp_path, site, sql, "xmliter_unusual_node.xml", "matchme...", lambda e: e.xpath("name()").getall()
    )
    assert got == [["matchme..."]]


def test_xmliter_unicode(tmp_path, site, sql):
    got = xml_records(
        tmp_path,
        site,
        sql,
        "xmliter_unicode.xml",
        "þingflokkur",
        lambda x: (
            x.attrib["id"],
            x.xpath("./skammstafanir/stuttskammstöfun/text()").getall(),
            x.xpath("./tímabil/fyrstaþing/text()").getall(),
        ),
    )
    assert got == as_lists([("26", ["-"], ["80"]), ("21", ["Ab"], ["76"]), ("27", ["A"], ["27"])])


def test_xmliter_text(tmp_path, site, sql):
    got = xml_records(tmp_path, site, sql, "xmliter_text.xml", "product", lambda x: x.xpath("text()").getall())
    assert got == [["one"], ["two"]]


def test_xmliter_namespaces_after_blank_lines(tmp_path, site, sql):
    def fields(node):
        return [
            node.xpath(query).getall()
            for query in (
                "title/text()",
                "description/text()",
                "link/text()",
                "g:image_link/text()",
                "g:id/text()",
                "g:price/text()",
                "image_link/text()",
                "id/text()",
                "price/text()",
            )
        ]

    got = xml_records(tmp_path, site, sql, "xmliter_namespaces.xml", "item", fields, [("g", GOOGLE_NS)])
    assert got == [
        [
            ["Item 1"],
            ["This is item 1"],
            ["http://www.mydummycompany.com/items/1"],
            ["http://www.mydummycompany.com/images/item1.jpg"],
            ["ITEM_1"],
            ["400"],
            [],
            [],
            [],
        ]
    ]


def test_xmliter_namespaced_nodename(tmp_path, site, sql):
    got = xml_records(
        tmp_path,
        site,
        sql,
        "xmliter_namespaces.xml",
        "g:image_link",
        lambda x: x.xpath("text()").getall(),
        [("g", GOOGLE_NS)],
    )
    assert got == [["http://www.mydummycompany.com/images/item1.jpg"]]


def test_xmliter_namespaced_nodename_missing(tmp_path, site, sql):
    got = xml_records(
        tmp_path,
        site,
        sql,
        "xmliter_namespaces.xml",
        "g:link_image",
        lambda x: x.xpath("text()").getall(),
        [("g", GOOGLE_NS)],
    )
    assert got == []


def test_xmliter_namespaced_nodename_other_prefixes(tmp_path, site, sql):
    got = xml_records(
        tmp_path,
        site,
        sql,
        "xmliter_namespaced_nodename_other_prefixes.xml",
        "g:id",
        lambda x: x.xpath("text()").getall(),
        [("g", GOOGLE_NS)],
    )
    assert got == [["ITEM_1"]]


def test_xmliter_encoding_declared_by_the_document(tmp_path, site, sql):
    got = xml_records(tmp_path, site, sql, "xmliter_encoding.xml", "item", lambda x: x.get())
    assert got == ["<item>Some Turkish Characters \xd6\xc7\u015e\u0130\u011e\xdc \xfc\u011f\u0131\u015f\xe7\xf6</item>"]


def test_xmliter_iterate_namespace(tmp_path, site, sql):
    plain = xml_records(tmp_path, site, sql, "xmliter_iterate_namespace.xml", "image_link", lambda x: x.get())
    assert plain == []
    got = xml_records(
        tmp_path,
        site,
        sql,
        "xmliter_iterate_namespace.xml",
        "n:image_link",
        lambda x: x.xpath("text()").getall(),
        [("n", GOOGLE_NS)],
    )
    assert got == [
        ["http://www.mydummycompany.com/images/item1.jpg"],
        ["http://www.mydummycompany.com/images/item2.jpg"],
    ]


@pytest.mark.parametrize(
    ("prefix", "uri", "expected"),
    [
        ("h", "http://www.w3.org/TR/html4/", [2, ["Apples"], ["Bananas"]]),
        ("f", "http://www.w3schools.com/furniture", [0, [], []]),
    ],
)
def test_xmliter_namespaces_prefix(tmp_path, site, sql, prefix, uri, expected):
    def record(node):
        if prefix == "f":
            return node.xpath("f:name/text()").getall()
        return [
            len(node.xpath("h:tr/h:td").getall()),
            node.xpath("h:tr/h:td[1]/text()").getall(),
            node.xpath("h:tr/h:td[2]/text()").getall(),
        ]

    got = xml_records(tmp_path, site, sql, "xmliter_namespaces_prefix.xml", f"{prefix}:table", record, [(prefix, uri)])
    assert got == ([expected] if prefix == "h" else [["African Coffee Table"]])


# tests/test_spider.py: TestXMLFeedSpider.test_register_namespace


def test_xml_feed_spider_register_namespace(tmp_path, site, sql):
    got = xml_records(
        tmp_path,
        site,
        sql,
        "spider_register_namespace.xml",
        "url",
        lambda s: {
            "loc": s.xpath("a:loc/text()").getall(),
            "updated": s.xpath("b:updated/text()").getall(),
            "other": s.xpath("other/@value").getall(),
            "custom": s.xpath("other/@b:custom").getall(),
        },
        [("a", "http://www.google.com/schemas/sitemap/0.84"), ("b", "http://www.example.com/schemas/extras/1.0")],
    )
    assert got == [
        {
            "loc": ["http://www.example.com/Special-Offers.html"],
            "updated": ["2009-08-16"],
            "custom": ["fuu"],
            "other": ["bar"],
        },
        {"loc": [], "updated": ["2009-08-16"], "other": ["foo"], "custom": []},
    ]


# tests/test_utils_sitemap.py: the entries of each sitemap, as sitemap_filter sees them


class Entries(SitemapSpider):
    """Keeps the entries it is shown and follows none of them (their hosts are not loopback)."""

    name = "entries"
    seen: ClassVar[list[dict[str, Any]]] = []

    def sitemap_filter(self, entries):
        type(self).seen.extend(entries)
        return []


def sitemap_entries(tmp_path, site: Site, sql, name: str) -> list[dict[str, Any]]:
    site.routes["/" + name] = lambda h: h.send_text(200, sample(name), "application/xml")
    Entries.seen = []
    run(tmp_path, Entries, [f"{site.url}/{name}"], "sitemap_urls")
    assert errors(sql, tmp_path) == []
    return Entries.seen


def test_sitemap(tmp_path, site, sql):
    assert sitemap_entries(tmp_path, site, sql, "sitemap.xml") == [
        {"priority": "1", "loc": "http://www.example.com/", "lastmod": "2009-08-16", "changefreq": "daily"},
        {
            "priority": "0.8",
            "loc": "http://www.example.com/Special-Offers.html",
            "lastmod": "2009-08-16",
            "changefreq": "weekly",
        },
    ]


def test_sitemap_index(tmp_path, site, sql):
    assert sitemap_entries(tmp_path, site, sql, "sitemap_index.xml") == [
        {"loc": "http://www.example.com/sitemap1.xml.gz", "lastmod": "2004-10-01T18:23:17+00:00"},
        {"loc": "http://www.example.com/sitemap2.xml.gz", "lastmod": "2005-01-01"},
    ]


@pytest.mark.parametrize("name", ["sitemap_strip.xml", "sitemap_wrong_ns.xml", "sitemap_wrong_ns2.xml"])
def test_sitemap_strip_and_wrong_namespaces(tmp_path, site, sql, name):
    assert sitemap_entries(tmp_path, site, sql, name) == [
        {"priority": "1", "loc": "http://www.example.com/", "lastmod": "2009-08-16", "changefreq": "daily"},
        {"loc": "http://www.example.com/2", "lastmod": ""},
    ]


def test_sitemap_blanklines(tmp_path, site, sql):
    assert sitemap_entries(tmp_path, site, sql, "sitemap_blanklines.xml") == [
        {"lastmod": "2013-07-15", "loc": "http://www.example.com/sitemap1.xml"},
        {"lastmod": "2013-07-15", "loc": "http://www.example.com/sitemap2.xml"},
        {"lastmod": "2013-07-15", "loc": "http://www.example.com/sitemap3.xml"},
    ]


def test_sitemap_comment(tmp_path, site, sql):
    assert sitemap_entries(tmp_path, site, sql, "sitemap_comment.xml") == [{"loc": "http://www.example.com/"}]


def test_sitemap_alternate(tmp_path, site, sql):
    assert sitemap_entries(tmp_path, site, sql, "sitemap_alternate.xml") == [
        {
            "loc": "http://www.example.com/english/",
            "alternate": [
                "http://www.example.com/deutsch/",
                "http://www.example.com/schweiz-deutsch/",
                "http://www.example.com/english/",
            ],
        }
    ]


def test_sitemap_xml_entity_expansion_is_refused(tmp_path, site, sql):
    assert sitemap_entries(tmp_path, site, sql, "sitemap_xml_entity_expansion.xml") == [
        {"loc": "http://127.0.0.1:8000/"}
    ]


# tests/test_utils_sitemap.py and tests/test_spider_sitemap.py: what is fetched. The documents
# name www.example.com; they are served with that host replaced by this loopback server's.


def on_loopback(site: Site, name: str, host: str = "http://www.example.com") -> bytes:
    return sample(name).replace(host.encode(), site.url.encode())


class Pages(SitemapSpider):
    name = "pages"

    def parse(self, response):
        return {"url": response.url}


def fetched(site: Site) -> list[str]:
    return sorted(path for path in site.hits if not path.endswith((".xml", ".txt")))


def test_sitemap_urls_from_robots(tmp_path, site, sql):
    robots = sample("sitemap_robots.txt").replace(b"://example.com", b"://" + f"127.0.0.1:{site.port}".encode())
    site.routes["/robots.txt"] = lambda h: h.send_text(200, robots, "text/plain")
    for path in ("/sitemap.xml", "/sitemap-product-index.xml", "/sitemap-uppercase.xml", "/sitemap-relative-url.xml"):
        site.routes[path] = lambda h: h.send_text(200, on_loopback(site, "sitemap_comment.xml"), "application/xml")
    site.page("/", "<h1>home</h1>")
    run(tmp_path, Pages, [site.url + "/robots.txt"], "sitemap_urls")
    assert {path: site.hits[path] for path in site.hits if path.endswith(".xml")} == {
        "/sitemap.xml": 1,
        "/sitemap-product-index.xml": 1,
        "/sitemap-uppercase.xml": 1,
        "/sitemap-relative-url.xml": 1,
    }
    assert stored(sql, tmp_path) == [{"url": site.url + "/"}]  # the one page, once


@pytest.mark.parametrize(
    ("alternates", "expected"),
    [
        (False, ["/english/"]),
        (True, ["/deutsch/", "/english/", "/italiano/", "/schweiz-deutsch/"]),
    ],
)
def test_alternate_url_locs(tmp_path, site, sql, alternates, expected):
    body = on_loopback(site, "spider_alternate_url_locs.xml")
    site.routes["/sitemap.xml"] = lambda h: h.send_text(200, body, "application/xml")
    for path in ("/english/", "/deutsch/", "/schweiz-deutsch/", "/italiano/"):
        site.page(path, "<h1>page</h1>")

    class Alternates(Pages):
        sitemap_alternate_links = alternates

    run(tmp_path, Alternates, [site.url + "/sitemap.xml"], "sitemap_urls")
    assert fetched(site) == expected


def test_sitemap_filter_by_lastmod(tmp_path, site, sql):
    from datetime import datetime

    body = on_loopback(site, "spider_sitemap_filter.xml")
    site.routes["/sitemap.xml"] = lambda h: h.send_text(200, body, "application/xml")
    for path in ("/english/", "/portuguese/"):
        site.page(path, "<h1>page</h1>")

    class Filtered(Pages):
        def sitemap_filter(self, entries):
            for entry in entries:
                if datetime.strptime(entry["lastmod"], "%Y-%m-%d").year > 2008:
                    yield entry

    run(tmp_path, Filtered, [site.url + "/sitemap.xml"], "sitemap_urls")
    assert fetched(site) == ["/english/"]


# tests/test_utils_iterators.py: TestUtilsCsv, and tests/test_spider.py: TestCSVFeedSpider

ROWS = [
    {"id": "1", "name": "alpha", "value": "foobar"},
    {"id": "2", "name": "unicode", "value": UNICODE},
    {"id": "3", "name": "multi", "value": "foo\nbar"},
    {"id": "4", "name": "empty", "value": ""},
]


def csv_rows(tmp_path, site: Site, sql, body: bytes, content_type: str = "text/csv", **attributes: Any):
    site.routes["/feed.csv"] = lambda h: h.send_text(200, body, content_type)

    class Rows(CSVFeedSpider):
        name = "scrapy_csv"

        def parse_row(self, response, row):
            return row

    for key, value in attributes.items():
        setattr(Rows, key, value)
    run(tmp_path, Rows, [site.url + "/feed.csv"])
    return stored(sql, tmp_path)


def test_csviter_defaults(tmp_path, site, sql):
    assert csv_rows(tmp_path, site, sql, sample("feed-sample3.csv")) == ROWS
    assert errors(sql, tmp_path) == []


def test_csviter_delimiter(tmp_path, site, sql):
    body = sample("feed-sample3.csv").replace(b",", b"\t")
    assert csv_rows(tmp_path, site, sql, body, delimiter="\t") == ROWS


def test_csviter_delimiter_binary_response_assume_utf8_encoding(tmp_path, site, sql):
    body = sample("feed-sample3.csv").replace(b",", b"\t")
    assert csv_rows(tmp_path, site, sql, body, "application/octet-stream", delimiter="\t") == ROWS


@pytest.mark.parametrize("delimiter", [",", "|"])
def test_csviter_quotechar(tmp_path, site, sql, delimiter):
    body = sample("feed-sample6.csv").replace(b",", delimiter.encode())
    assert csv_rows(tmp_path, site, sql, body, delimiter=delimiter, quotechar="'") == ROWS


def test_csviter_wrong_quotechar(tmp_path, site, sql):
    assert csv_rows(tmp_path, site, sql, sample("feed-sample6.csv")) == [
        {"'id'": "1", "'name'": "'alpha'", "'value'": "'foobar'"},
        {"'id'": "2", "'name'": "'unicode'", "'value'": f"'{UNICODE}'"},
        {"'id'": "'3'", "'name'": "'multi'", "'value'": "'foo"},
        {"'id'": "4", "'name'": "'empty'", "'value'": ""},
    ]
    [(kind, message)] = errors(sql, tmp_path)  # Scrapy logs the ragged line "bar'"; we record it
    assert kind == "parse" and "line 5 has 1 fields" in message


def test_csviter_headers(tmp_path, site, sql):
    lines = sample("feed-sample3.csv").splitlines()
    headers, body = lines[0].decode().split(","), b"\n".join(lines[1:])
    assert csv_rows(tmp_path, site, sql, body, headers=headers) == ROWS


def test_csviter_falserow(tmp_path, site, sql):
    body = b"\n".join((sample("feed-sample3.csv"), b"a,b", b"a,b,c,d"))
    assert csv_rows(tmp_path, site, sql, body) == ROWS
    [(kind, message)] = errors(sql, tmp_path)
    assert kind == "parse" and "2 ragged CSV row(s) skipped" in message


def test_csviter_empty(tmp_path, site, sql):
    assert csv_rows(tmp_path, site, sql, b"") == []


@pytest.mark.parametrize(
    ("name", "charset", "expected"),
    [
        (
            "feed-sample4.csv",
            "latin1",
            [
                {"id": "1", "name": "latin1", "value": "test"},
                {"id": "2", "name": "something", "value": "\xf1\xe1\xe9\xf3"},
            ],
        ),
        (
            "feed-sample5.csv",
            "cp852",
            [
                {"id": "1", "name": "cp852", "value": "test"},
                {"id": "2", "name": "something", "value": "\u255a\u2569\u2569\u2569\u2550\u2550\u2557"},
            ],
        ),
    ],
)
def test_csviter_encoding(tmp_path, site, sql, name, charset, expected):
    assert csv_rows(tmp_path, site, sql, sample(name), f"text/csv; charset={charset}") == expected


def test_get_sitemap_urls_from_robotstxt_skips_invalid_utf8_urls(tmp_path, site, sql):
    robots = sample("spider_robots_invalid_utf8.txt").replace(b"http://example.com", site.url.encode())
    site.routes["/robots.txt"] = lambda h: h.send_text(200, robots, "text/plain")
    site.routes["/ok.xml"] = lambda h: h.send_text(200, on_loopback(site, "sitemap_comment.xml"), "application/xml")
    site.page("/", "<h1>home</h1>")
    run(tmp_path, Pages, [site.url + "/robots.txt"], "sitemap_urls")
    assert sorted(path for path in site.hits if path.endswith(".xml")) == ["/ok.xml"]  # no /%EF%BF%BD.xml


def test_sitemap_non_string_tag_gives_no_entry_and_no_crash(tmp_path, site, sql):
    site.routes["/bad.xml"] = lambda h: h.send_text(200, sample("sitemap_non_string_tag.xml"), "application/xml")
    Entries.seen = []
    run(tmp_path, Entries, [site.url + "/bad.xml"], "sitemap_urls")
    assert Entries.seen == []  # Scrapy: no entries; here also one parse error row, not a crash
    assert [kind for kind, _ in errors(sql, tmp_path)] == ["parse"]
