"""XMLFeedSpider: records streamed from http, ftp and file; hostile and malformed XML."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from pathlib import Path

from conftest import Handler, Site
from feed_measure import measured_crawl
from test_ftp import ftp, tree  # noqa: F401 - fixtures: a pyftpdlib server over a tmp tree

from harvester import Request, XMLFeedSpider
from harvester.config import build
from harvester.crawler import crawl

BOOKS = b"""<?xml version="1.0" encoding="UTF-8"?>
<catalog>
  <book sku="1"><title>Dune</title><price>9.99</price></book>
  <book sku="2"><title>Emma</title><price>4.50</price></book>
  <book sku="3"><title>Ulysses &amp; more</title><price>12.00</price></book>
</catalog>
"""


class Books(XMLFeedSpider):
    name = "books"
    itertag = "book"

    def parse_node(self, response, node):
        yield {
            "sku": node.attrib["sku"],
            "title": node.xpath("title/text()").get(),
            "price": node.css("price::text").get(),
        }


def run(tmp_path: Path, spider: type, urls: list[str], **fetch: object):
    spider.start_urls = urls
    options = {"fetch": {"obey_robots": False, "retries": 0, "timeout": 5, **fetch}}
    return asyncio.run(crawl(build(options, root=tmp_path), spider))


def items(sql, tmp_path: Path) -> list[dict]:
    return [json.loads(row[0]) for row in sql(tmp_path, "select data from items order by id")]


def test_an_xml_feed_over_http_yields_one_item_per_node(tmp_path, site: Site, sql):
    site.page("/books.xml", BOOKS.decode(), content_type="application/xml")
    result = run(tmp_path, Books, [site.url + "/books.xml"])
    assert items(sql, tmp_path) == [
        {"sku": "1", "title": "Dune", "price": "9.99"},
        {"sku": "2", "title": "Emma", "price": "4.50"},
        {"sku": "3", "title": "Ulysses & more", "price": "12.00"},
    ]
    assert sql(tmp_path, "select url from items") == [(site.url + "/books.xml",)] * 3
    assert sql(tmp_path, "select status, size from pages") == [(200, len(BOOKS))]
    assert result.stats.errors == 0


def test_the_same_feed_streams_over_ftp_and_from_a_file(tmp_path, ftp, tree, sql):  # noqa: F811
    (tree / "feeds" / "catalog.xml").write_bytes(BOOKS)
    port = ftp(anonymous=True)
    run(tmp_path, Books, [f"ftp://127.0.0.1:{port}/feeds/catalog.xml", (tree / "feeds" / "catalog.xml").as_uri()])
    rows = sql(tmp_path, "select url, json_extract(data, '$.title') from items order by url, id")
    titles = ["Dune", "Emma", "Ulysses & more"]
    assert [title for url, title in rows if url.startswith("file:")] == titles
    assert [title for url, title in rows if url.startswith("ftp:")] == titles
    assert sql(tmp_path, "select count(*) from errors") == [(0,)]


def test_a_large_feed_is_read_in_many_chunks_with_every_record_kept(tmp_path, ftp, tree, sql):  # noqa: F811
    padding = b"x" * 200
    records = b"".join(b'<book sku="%d"><title>%s</title></book>\n' % (i, padding) for i in range(5_000))
    (tree / "big.xml").write_bytes(b"<catalog>" + records + b"</catalog>")  # 1.1 MB: many chunks
    port = ftp(anonymous=True)
    run(tmp_path, Books, [f"ftp://127.0.0.1:{port}/big.xml", (tree / "big.xml").as_uri()])
    assert sql(tmp_path, "select count(*), count(distinct json_extract(data, '$.sku')) from items") == [(10_000, 5_000)]


def test_a_gzipped_feed_file_is_inflated_by_its_magic_bytes(tmp_path, ftp, tree, sql):  # noqa: F811
    (tree / "feeds" / "catalog.xml.gz").write_bytes(gzip.compress(BOOKS))
    port = ftp(anonymous=True)
    run(tmp_path, Books, [f"ftp://127.0.0.1:{port}/feeds/catalog.xml.gz"])
    assert sql(tmp_path, "select count(*) from items") == [(3,)]


def test_itertag_and_node_queries_use_the_declared_namespace_prefixes(tmp_path, site: Site, sql):
    site.page(
        "/atom",
        """<?xml version="1.0"?>
        <feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
          <entry><title>One</title><media:thumbnail url="/1.png"/></entry>
          <title>not an entry</title>
          <entry><title>Two</title></entry>
        </feed>""",
        content_type="application/atom+xml",
    )

    class Atom(XMLFeedSpider):
        name = "atom"
        itertag = "atom:entry"
        namespaces = [("atom", "http://www.w3.org/2005/Atom"), ("media", "http://search.yahoo.com/mrss/")]

        def parse_node(self, response, node):
            yield {"title": node.xpath("atom:title/text()").get(), "thumb": node.xpath("media:thumbnail/@url").get()}

    run(tmp_path, Atom, [site.url + "/atom"])
    assert items(sql, tmp_path) == [{"title": "One", "thumb": "/1.png"}, {"title": "Two", "thumb": None}]


def test_parse_node_may_return_an_item_or_yield_requests(tmp_path, site: Site, sql):
    site.page(
        "/feed", "<r><item><link>/page/1</link></item><item><link>/page/2</link></item></r>", content_type="text/xml"
    )
    site.page("/page/1", "<h1>one</h1>")
    site.page("/page/2", "<h1>two</h1>")

    class Links(XMLFeedSpider):
        name = "links"

        def parse_node(self, response, node):
            return Request(response.urljoin(node.xpath("link/text()").get()), callback=self.parse_page)

        def parse_page(self, response):
            return {"h1": response.css("h1::text").get()}

    run(tmp_path, Links, [site.url + "/feed"])
    assert sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.h1') from items")) == ["one", "two"]


def test_an_external_entity_is_never_expanded(tmp_path, site: Site, sql):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    site.page(
        "/xxe",
        f"""<?xml version="1.0"?>
        <!DOCTYPE r [
          <!ENTITY secret SYSTEM "{secret.as_uri()}">
          <!ENTITY host SYSTEM "file:///etc/hostname">
        ]>
        <r><item>a &secret; b &host; c</item></r>""",
        content_type="application/xml",
    )

    class Leak(XMLFeedSpider):
        name = "leak"

        def parse_node(self, response, node):
            yield {"text": node.text, "markup": node.get()}

    run(tmp_path, Leak, [site.url + "/xxe"])
    stored = sql(tmp_path, "select data from items")
    assert len(stored) == 1
    assert "TOP-SECRET-42" not in stored[0][0]
    assert not hostname or hostname not in json.loads(stored[0][0])["text"].replace("&host;", "")
    assert "&secret;" in json.loads(stored[0][0])["markup"]


LAUGHS = """
from harvester import XMLFeedSpider


class Laughs(XMLFeedSpider):
    name = "laughs"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/bomb", self.base + "/good"]

    def parse_node(self, response, node):
        yield {"size": len(node.text), "text": node.text[:50]}
"""


def test_billion_laughs_is_never_expanded_and_the_crawl_goes_on(project, site: Site):
    entities = ['<!ENTITY lol0 "lollollollollollollollollollol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    bomb = f'<?xml version="1.0"?><!DOCTYPE r [{"".join(entities)}]><r><item>&lol9;</item></r>'
    site.page("/bomb", bomb, content_type="application/xml")
    site.page("/good", "<r><item>fine</item></r>", content_type="application/xml")
    project.spider("laughs", LAUGHS)
    crawl = measured_crawl(project, "laughs", "-a", f"base={site.url}")  # its own peak, not this process's
    print(f"peak RSS {crawl.peak_mb:.0f} MB, {crawl.cpu_seconds:.2f} s CPU")
    assert crawl.returncode == 0, crawl.stderr
    assert project.sql("select status from runs") == [("finished",)]
    sizes = [row[0] for row in project.sql("select json_extract(data, '$.size') from items")]
    assert max(sizes) < 1000  # at most the reference itself, never its expansion (30 GB)
    assert ("fine",) in project.sql("select json_extract(data, '$.text') from items")
    assert crawl.peak_mb < 150, f"peak RSS {crawl.peak_mb:.0f} MB"  # a small crawl's own figure


def truncated_then_good(site: Site) -> tuple[str, str]:
    site.page(
        "/broken",
        '<catalog><book sku="1"><title>A</title></book>\n<book sku="2"><title>B</title></book>\n<book sku="3"><title>C',
        content_type="application/xml",
    )
    site.page("/fine", BOOKS.decode(), content_type="application/xml")
    return site.url + "/broken", site.url + "/fine"


def test_truncated_xml_keeps_the_records_before_it_and_the_crawl_goes_on(tmp_path, site: Site, sql):
    broken, fine = truncated_then_good(site)
    result = run(tmp_path, Books, [broken, fine])
    by_url = sql(tmp_path, "select url, json_extract(data, '$.sku') from items order by id")
    assert [sku for url, sku in by_url if url == broken] == ["1", "2"]
    assert [sku for url, sku in by_url if url == fine] == ["1", "2", "3"]
    [(kind, url, message)] = sql(tmp_path, "select kind, url, message from errors")
    assert (kind, url) == ("parse", broken)
    assert "after record 2" in message and "line 3" in message and "bytes" in message
    assert result.status == "finished"


def test_malformed_markup_mid_feed_names_the_line(tmp_path, site: Site, sql):
    site.page(
        "/bad",
        '<catalog>\n<book sku="1"><title>A</title></book>\n<book sku=2><title>B</title></book>\n</catalog>',
        content_type="application/xml",
    )
    run(tmp_path, Books, [site.url + "/bad"])
    assert sql(tmp_path, "select json_extract(data, '$.sku') from items") == [("1",)]
    [(kind, message)] = sql(tmp_path, "select kind, message from errors")
    assert kind == "parse" and "after record 1" in message and "line 3" in message


def test_feed_max_size_bounds_a_streamed_feed_and_keeps_what_came_before(tmp_path, site: Site, sql):
    body = b"<c>" + b"".join(b'<book sku="%d">%s</book>' % (i, b"x" * 100) for i in range(10_000)) + b"</c>"
    site.page("/feed.xml", body.decode(), content_type="application/xml")
    (tmp_path / "feed.xml").write_bytes(body)

    class Skus(XMLFeedSpider):
        name = "skus"
        itertag = "book"

        def parse_node(self, response, node):
            yield {"sku": node.attrib["sku"]}

    run(tmp_path, Skus, [site.url + "/feed.xml", (tmp_path / "feed.xml").as_uri()], feed_max_size="256KB")
    errors = sql(tmp_path, "select kind, url, message from errors order by url")
    assert [(kind, url[:4]) for kind, url, _ in errors] == [("too_large", "file"), ("too_large", "http")]
    assert all("feed_max_size" in message for _, _, message in errors)
    by_scheme = dict(sql(tmp_path, "select substr(url, 1, 4), count(*) from items group by 1"))
    assert "file" not in by_scheme  # its size is known: refused before a byte is read
    assert 1_000 < by_scheme["http"] < 10_000  # read until the cap, those records kept


def test_the_spider_encoding_reads_a_feed_that_declares_none(tmp_path, sql):
    feed = tmp_path / "legacy.xml"
    feed.write_bytes("<r><item>Café</item></r>".encode("cp1252"))

    class Legacy(XMLFeedSpider):
        name = "legacy"
        encoding = "cp1252"

        def parse_node(self, response, node):
            yield {"text": node.text}

    run(tmp_path, Legacy, [feed.as_uri()])
    assert sql(tmp_path, "select json_extract(data, '$.text') from items") == [("Café",)]


def test_a_feed_served_slowly_in_small_pieces_parses_the_same(tmp_path, site: Site, sql):
    def trickle(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(BOOKS)))
        handler.end_headers()
        for start in range(0, len(BOOKS), 7):
            handler.wfile.write(BOOKS[start : start + 7])
            handler.wfile.flush()

    site.routes["/slow"] = trickle
    run(tmp_path, Books, [site.url + "/slow"])
    assert [item["sku"] for item in items(sql, tmp_path)] == ["1", "2", "3"]


def test_a_feed_that_stalls_mid_body_times_out_and_keeps_the_records_before(tmp_path, site: Site, sql):
    head, stop = BOOKS[: BOOKS.index(b'<book sku="3"')], threading.Event()

    def stall(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(BOOKS)))
        handler.end_headers()
        handler.wfile.write(head)
        handler.wfile.flush()
        stop.wait(10)  # then gives up: the test has finished by now

    site.routes["/stall"] = stall
    Books.start_urls = [site.url + "/stall"]
    settings = build({"fetch": {"obey_robots": False, "retries": 0, "timeout": 0.5}}, root=tmp_path)
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(crawl(settings, Books), 8))  # a hang fails here, not forever
    finally:
        stop.set()
    assert time.monotonic() - started < 5
    assert [item["sku"] for item in items(sql, tmp_path)] == ["1", "2"]
    assert sql(tmp_path, "select kind from errors") == [("timeout",)]


def test_a_callback_that_fails_early_releases_the_transfer(tmp_path, ftp, tree, sql):  # noqa: F811
    (tree / "first.xml").write_bytes(b"<c>" + b"<book sku='1'/>" * 50_000 + b"</c>")
    port = ftp(anonymous=True)

    class Fails(XMLFeedSpider):
        name = "fails"
        itertag = "book"

        def parse_node(self, response, node):
            raise RuntimeError("spider bug")

    started = time.monotonic()
    run(tmp_path, Fails, [f"ftp://127.0.0.1:{port}/first.xml", (tree / "first.xml").as_uri()])
    assert time.monotonic() - started < 10
    assert sql(tmp_path, "select kind from errors") == [("spider",), ("spider",)]
    deadline = time.monotonic() + 5
    while any(t.name.startswith(("harvester-ftp", "harvester-file")) for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a transport thread is still reading"
        time.sleep(0.05)
