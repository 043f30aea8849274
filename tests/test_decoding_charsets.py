"""Charset labels read as the WHATWG Encoding Standard reads them, and one BOM sniffer for all."""

from __future__ import annotations

import asyncio
import codecs

import httpx
import pytest
from conftest import Site

from harvester import Spider, charsets
from harvester.config import build
from harvester.crawler import crawl
from harvester.response import Response

ZHU = "朱镕基"  # 镕 is in GBK, not in GB2312: pages labelled gb2312 use it all the same


class Texts(Spider):
    name = "texts"

    def parse(self, response):
        yield {"path": response.url.rsplit("/", 1)[1], "h1": response.css("h1::text").get()}


def page(text: str, codec: str, meta: str = "") -> bytes:
    return f"<html><head>{meta}</head><body><h1>{text}</h1></body></html>".encode(codec)


def test_labelled_pages_keep_every_character_the_browser_shows(tmp_path, site: Site, sql):
    served = {
        "/gb2312-header": (page(ZHU, "gbk"), "text/html; charset=gb2312"),
        "/gb2312-meta": (page(ZHU, "gbk", '<meta charset="GB2312">'), "text/html"),
        "/latin1-euro": (page("5 € – “ok”", "cp1252"), "text/html; charset=ISO-8859-1"),
        "/ascii-quote": (page("“quoted”", "cp1252"), "text/html; charset=us-ascii"),
        "/x-sjis": (
            page("①吾輩", "cp932", '<meta http-equiv="Content-Type" content="text/html; charset=x-sjis">'),
            "text/html",
        ),
        "/euc-kr": (page("똠방각하", "cp949"), "text/html; charset=euc-kr"),
    }
    for path, (body, content_type) in served.items():
        site.routes[path] = lambda h, body=body, content_type=content_type: h.send_text(200, body, content_type)
    Texts.start_urls = [site.url + path for path in served]
    asyncio.run(crawl(build({"fetch": {"obey_robots": False}}, root=tmp_path), Texts))
    got = dict(sql(tmp_path, "select json_extract(data, '$.path'), json_extract(data, '$.h1') from items"))
    assert got == {
        "gb2312-header": ZHU,
        "gb2312-meta": ZHU,
        "latin1-euro": "5 € – “ok”",
        "ascii-quote": "“quoted”",
        "x-sjis": "①吾輩",
        "euc-kr": "똠방각하",
    }


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("iso-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("ascii", "cp1252"),
        ("us-ascii", "cp1252"),
        ("x-sjis", "cp932"),
        ("shift_jis", "cp932"),
        ("euc-kr", "cp949"),
        ("big5", "big5hkscs"),
        ("iso-8859-9", "cp1254"),
        ("tis-620", "cp874"),
        (" UTF8 ", "utf-8"),
        ("unicode-1-1-utf-8", "utf-8"),
        ("koi8-u", "koi8-u"),
        ('"windows-1251"', "cp1251"),
    ],
)
def test_labels_map_as_the_encoding_standard_says(label: str, codec: str) -> None:
    assert codecs.lookup(charsets.codec_for(label)).name == codecs.lookup(codec).name


@pytest.mark.parametrize("label", ["no-such-charset", "", "replacement", "iso-2022-kr"])
def test_labels_with_no_decoder_are_ignored(label: str) -> None:
    assert charsets.codec_for(label) is None


def test_an_unknown_header_label_falls_back_to_the_meta() -> None:
    body = page("Grüße", "cp1252", '<meta charset="windows-1252">')
    response = Response("http://site.test/", 200, httpx.Headers({"Content-Type": "text/html; charset=bogus"}), body)
    assert response.css("h1::text").get() == "Grüße"


def test_a_meta_saying_utf16_on_an_ascii_readable_page_means_utf8() -> None:
    body = page("Grüße", "utf-8", '<meta charset="utf-16">')
    assert Response("http://site.test/", 200, httpx.Headers({"Content-Type": "text/html"}), body).text.count("Grüße")


@pytest.mark.parametrize("codec", ["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_every_unicode_bom_is_sniffed_and_stripped(codec: str) -> None:
    mark = {
        "utf-8": codecs.BOM_UTF8,
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE,
        "utf-32-be": codecs.BOM_UTF32_BE,
    }[codec]
    body = mark + page("Köln 朱镕基", codec)
    assert charsets.bom(body) == (codec, len(mark))
    response = Response("http://site.test/", 200, httpx.Headers({"Content-Type": "text/html; charset=latin1"}), body)
    assert response.text.startswith("<html>")
    assert response.css("h1::text").get() == "Köln 朱镕基"


def test_the_xml_declaration_label_is_mapped_too() -> None:
    assert charsets.xml_charset(b'\n  <?xml version="1.0" encoding="gb2312"?><rss/>') == "gb18030"
    assert charsets.xml_charset(b"<?xml version='1.0' encoding='ISO-8859-1'?>") == "cp1252"
    assert charsets.xml_charset(b'<?xml version="1.0"?><rss/>') is None


def test_a_feed_charset_comes_from_its_bom_header_spider_or_declaration() -> None:
    declared = b'<?xml version="1.0" encoding="gb2312"?><feed/>'
    assert charsets.feed_encoding(codecs.BOM_UTF16_LE + "<".encode("utf-16-le")) == ("utf-16-le", 2)
    assert charsets.feed_encoding(declared, "text/xml; charset=latin1") == ("cp1252", 0)
    assert charsets.feed_encoding(declared, "text/xml", fallback="x-sjis") == ("cp932", 0)
    assert charsets.feed_encoding(declared) == ("gb18030", 0)
    assert charsets.feed_encoding(b"<feed/>") == ("utf-8", 0)


def xml(body: bytes, content_type: str = "application/xml") -> Response:
    return Response("http://site.test/feed", 200, httpx.Headers({"Content-Type": content_type}), body)


def test_an_xml_document_is_read_by_the_same_labels() -> None:
    declared = '<?xml version="1.0" encoding="{}"?><r><t>{}</t></r>'
    assert xml(declared.format("gb2312", ZHU).encode("gbk")).xpath("//t/text()").get() == ZHU
    assert xml(declared.format("iso-8859-1", "5 €").encode("cp1252")).xpath("//t/text()").get() == "5 €"
    undeclared = "<r><t>Grüße</t></r>".encode("cp1252")
    assert xml(undeclared, "text/xml; charset=windows-1252").xpath("//t/text()").get() == "Grüße"
    header_wins = declared.format("utf-8", "Grüße").encode("cp1252")
    assert xml(header_wins, "text/xml; charset=latin1").xpath("//t/text()").get() == "Grüße"
    utf16 = declared.format("utf-16", "Köln").encode("utf-16")
    assert xml(utf16).xpath("//t/text()").get() == "Köln"
