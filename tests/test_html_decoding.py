"""HTML text decoded right: header, BOM, <meta>, then detection; broken markup still readable."""

from __future__ import annotations

import asyncio
import codecs

import httpx
from conftest import Site

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl
from harvester.response import Response

JAPANESE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">
<title>本の一覧</title></head><body><h1>吾輩は猫である</h1><p>夏目漱石の小説。</p>
<a href="/next">次のページ</a></body></html>"""


class Pages(Spider):
    name = "pages"

    def parse(self, response):
        yield {
            "title": response.css("title::text").get(),
            "h1": response.css("h1::text").get(),
            "text": response.text,
            "encoding": codecs.lookup(response.encoding).name,
            "links": list(response.links()),
        }


def test_a_shift_jis_page_declared_only_by_meta_is_read_right(tmp_path, site: Site, sql):
    site.routes["/jp"] = lambda h: h.send_text(200, JAPANESE.encode("shift_jis"), "text/html")
    Pages.start_urls = [site.url + "/jp"]
    asyncio.run(crawl(build({"fetch": {"obey_robots": False}}, root=tmp_path), Pages))
    [(title, h1, encoding, links)] = sql(
        tmp_path,
        "select json_extract(data, '$.title'), json_extract(data, '$.h1'),"
        " json_extract(data, '$.encoding'), json_extract(data, '$.links')"
        " from items",
    )
    assert (title, h1) == ("本の一覧", "吾輩は猫である")
    assert encoding == "cp932"  # Shift_JIS as the Encoding Standard decodes it (Windows-31J)
    assert links == f'["{site.url}/next"]'


def undeclared(text: str, codec: str) -> Response:
    return Response(
        "http://site.test/",
        200,
        httpx.Headers({"Content-Type": "text/html"}),
        f"<html><body><p>{text}</p></body></html>".encode(codec),
    )


def test_an_undeclared_page_that_is_valid_utf8_is_utf8():
    assert undeclared("Grüße aus Köln", "utf-8").css("p::text").get() == "Grüße aus Köln"


def test_an_undeclared_cyrillic_page_is_detected():
    text = "Добро пожаловать на наш сайт. Здесь вы найдёте книги, музыку и фильмы по доступным ценам."
    response = undeclared(text, "cp1251")
    assert response.css("p::text").get() == text
    assert codecs.lookup(response.encoding).name == "cp1251"


def test_an_undeclared_western_page_falls_back_to_windows_1252():
    text = "Café crème brûlée — “déjà vu” à la française, 5 €"
    response = undeclared(text, "cp1252")
    assert codecs.lookup(response.encoding).name == "cp1252"
    assert response.text.endswith(f"<p>{text}</p></body></html>")


def test_broken_markup_still_yields_its_text_and_links():
    body = b"<html><body><div><p>First <b>bold<p>Second</div></span><a href='/a'>A<a href=b>B</td>tail"
    response = Response("http://site.test/x/", 200, httpx.Headers({"Content-Type": "text/html"}), body)
    assert list(response.links()) == ["http://site.test/a", "http://site.test/x/b"]
    assert "".join(response.css("body ::text").getall()) == "First boldSecondABtail"
