"""CSVFeedSpider: rows streamed with quoted commas and newlines, charsets, ragged lines."""

from __future__ import annotations

import asyncio
import codecs
import json
from pathlib import Path

import pytest
from conftest import Site

from harvester import CSVFeedSpider, ParseError
from harvester.config import build
from harvester.crawler import crawl
from harvester.feeds.csv import iter_rows
from harvester.request import Request
from harvester.response import Response


class Rows(CSVFeedSpider):
    name = "rows"

    def parse_row(self, response, row):
        return row


def run(tmp_path: Path, spider: type, urls: list[str]):
    spider.start_urls = urls
    options = {"fetch": {"obey_robots": False, "retries": 0, "timeout": 5}}
    return asyncio.run(crawl(build(options, root=tmp_path), spider))


def rows(sql, tmp_path: Path) -> list[dict]:
    return [json.loads(row[0]) for row in sql(tmp_path, "select data from items order by id")]


QUOTED = (
    'sku,title,notes\r\n'
    '1,"Dune, Deluxe","a ""classic""\r\nin two lines"\r\n'
    '2,Emma,\r\n'
    '\r\n'
    '3,"x,y,z","line one\nline two\nline three"\r\n'
)


def test_quoted_commas_and_newlines_stay_inside_their_fields(tmp_path, site: Site, sql):
    site.page("/books.csv", QUOTED, content_type="text/csv; charset=utf-8")
    result = run(tmp_path, Rows, [site.url + "/books.csv"])
    assert rows(sql, tmp_path) == [
        {"sku": "1", "title": "Dune, Deluxe", "notes": 'a "classic"\r\nin two lines'},
        {"sku": "2", "title": "Emma", "notes": ""},
        {"sku": "3", "title": "x,y,z", "notes": "line one\nline two\nline three"},
    ]
    assert result.stats.errors == 0


def parsed(data: bytes, piece: int, **options) -> list[dict]:
    """iter_rows over `data` arriving `piece` bytes at a time."""

    async def pieces():
        for start in range(0, len(data), piece):
            yield data[start:start + piece]

    async def collect():
        response = Response("http://feed.test/f.csv", 200, request=Request("http://feed.test/f.csv"))
        response.stream, response.streamed = pieces(), True
        return [row async for row in iter_rows(response, **options)]

    return asyncio.run(collect())


def test_rows_are_the_same_whatever_the_chunk_boundaries():
    data = QUOTED.encode() + "4,Grüße,\"é\"\n".encode()
    whole = parsed(data, len(data))
    assert len(whole) == 4 and whole[3] == {"sku": "4", "title": "Grüße", "notes": "é"}
    for piece in (1, 2, 3, 5, 7, 64):
        assert parsed(data, piece) == whole


def test_a_stray_quote_inside_an_unquoted_field_is_literal():
    data = b'id,size\n1,5" pipe\n2,"3"\n'
    assert parsed(data, 4) == [{"id": "1", "size": '5" pipe'}, {"id": "2", "size": "3"}]


def test_a_ragged_line_is_named_and_skipped_and_the_crawl_goes_on(tmp_path, site: Site, sql):
    site.page("/ragged.csv", "sku,title\n1,Dune\n2,Emma,extra\n3,Ulysses\n4\n", content_type="text/csv")
    site.page("/fine.csv", "sku,title\n9,Fine\n", content_type="text/csv")
    result = run(tmp_path, Rows, [site.url + "/ragged.csv", site.url + "/fine.csv"])
    assert sorted(row["sku"] for row in rows(sql, tmp_path)) == ["1", "3", "9"]
    [(kind, url, message)] = sql(tmp_path, "select kind, url, message from errors")
    assert (kind, url) == ("parse", site.url + "/ragged.csv")
    assert "line 3 has 3 fields, expected 2" in message and "line 5 has 1 fields" in message
    assert result.status == "finished"


def test_a_quoted_field_left_open_is_a_parse_error_naming_its_line():
    with pytest.raises(ParseError, match="inside a quoted field opened on line 3"):
        parsed(b'a,b\n1,2\n3,"never closed\n4,5\n', 5)


def test_delimiter_quotechar_and_headers_are_the_spiders(tmp_path, site: Site, sql):
    site.page("/semi.csv", "1;'Dune; the novel';9.99\n2;Emma;4.50\n", content_type="text/csv")

    class Semicolons(Rows):
        name = "semicolons"
        delimiter = ";"
        quotechar = "'"
        headers = ["sku", "title", "price"]

    run(tmp_path, Semicolons, [site.url + "/semi.csv"])
    assert rows(sql, tmp_path) == [
        {"sku": "1", "title": "Dune; the novel", "price": "9.99"},
        {"sku": "2", "title": "Emma", "price": "4.50"},
    ]


def test_the_charset_comes_from_the_header_then_a_bom_then_the_spider(tmp_path, site: Site, sql):
    text = "name,city\nJosé,Zürich\n"
    site.routes["/latin1.csv"] = lambda h: h.send_text(200, text.encode("latin-1"), "text/csv; charset=iso-8859-1")
    site.routes["/bom16.csv"] = lambda h: h.send_text(200, codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
                                                      "text/csv")
    site.routes["/bom8.csv"] = lambda h: h.send_text(200, codecs.BOM_UTF8 + text.encode(), "text/csv")
    legacy = tmp_path / "legacy.csv"
    legacy.write_bytes(text.encode("cp1252"))

    class Legacy(Rows):
        name = "legacy"
        encoding = "cp1252"  # for sources that name no charset

    run(tmp_path, Legacy, [site.url + "/latin1.csv", site.url + "/bom16.csv", site.url + "/bom8.csv",
                           legacy.as_uri()])
    assert rows(sql, tmp_path) == [{"name": "José", "city": "Zürich"}] * 4
