from __future__ import annotations

from pathlib import Path

import pytest

from harvester.selector import Selector, SelectorList

PAGE = b"""<!DOCTYPE html>
<html><head><title>Shop</title></head>
<body>
  <h1 id="top">Hello <b>big</b> world</h1>
  <ul class="items">
    <li class="item"><a href="/p/1" data-sku="A1">First</a>
      <span class="price">12.50 EUR</span></li>
    <li class="item sale"><a href="/p/2" data-sku="B2">Second</a>
      <span class="price">7.99 EUR</span></li>
  </ul>
  <p class="note">Price list <!-- hidden --> updated</p>
</body></html>"""


@pytest.fixture
def page() -> Selector:
    return Selector.from_html(PAGE, "utf-8", base_url="https://shop.example/")


def test_css_text_and_attr_extraction(page: Selector) -> None:
    assert page.css("title::text").get() == "Shop"
    assert page.css("h1::text").getall() == ["Hello ", " world"]
    assert page.css("li a::attr(href)").getall() == ["/p/1", "/p/2"]
    assert page.css("a::attr(data-sku)").get() == "A1"
    assert page.css("a::attr(missing)").get() is None
    assert page.css("a::attr(missing)").get(default="n/a") == "n/a"


def test_star_text_selects_descendant_text_only(page: Selector) -> None:
    assert page.css("h1 *::text").getall() == ["big"]
    assert page.css("h1 ::text").getall() == ["big"]
    # bare ::text on a selected node = its own text children
    assert page.css("h1").css("::text").getall() == ["Hello ", " world"]
    assert page.css("h1").css("::attr(id)").getall() == ["top"]


def test_comma_separated_css_parts_each_get_pseudo_elements(page: Selector) -> None:
    got = page.css("title::text, li.sale a::attr(href), h1 b::text").getall()
    assert got == ["Shop", "big", "/p/2"]  # union, in document order


def test_xpath_with_variables(page: Selector) -> None:
    assert page.xpath("//a[@data-sku=$sku]/text()", sku="B2").get() == "Second"
    assert page.xpath("count(//li[contains(@class, $c)])", c="item").get() == "2.0"
    assert page.xpath("boolean(//h1)").get() == "1"  # as parsel: "1" / "0"
    assert page.xpath("string(//h1)").get() == "Hello big world"


def test_nested_selection_is_relative_to_the_node(page: Selector) -> None:
    rows = [(li.css("a::text").get(), li.xpath("./span/text()").re_first(r"[\d.]+")) for li in page.css("li.item")]
    assert rows == [("First", "12.50"), ("Second", "7.99")]
    second = page.css("li")[1]
    assert second.css("a::attr(href)").getall() == ["/p/2"]
    assert isinstance(page.css("li")[0:1], SelectorList)


def test_element_get_getall_attrib_text(page: Selector) -> None:
    link = page.css("a")[0]
    assert link.type == "html"
    assert link.get() == '<a href="/p/1" data-sku="A1">First</a>'  # no tail
    assert link.getall() == [link.get()]
    assert link.attrib == {"href": "/p/1", "data-sku": "A1"}
    assert page.css("h1")[0].text == "Hello big world"
    assert page.css("p.note")[0].text == "Price list  updated"  # comments are not text
    assert page.css("li").attrib == {"class": "item"}
    assert page.css("nothing").attrib == {}
    assert "data=" in repr(link)


def test_text_selector_get_getall_attrib_text() -> None:
    sel = Selector(text="plain value", type="text")
    assert sel.type == "text"
    assert sel.root == sel.get() == "plain value"
    assert sel.getall() == ["plain value"]
    assert sel.attrib == {}
    assert sel.text == "plain value"
    assert sel.css("a").getall() == [] and sel.xpath("//a").getall() == []
    with pytest.raises(ValueError):
        Selector()


def test_re_and_re_first(page: Selector) -> None:
    prices = page.css("span.price::text")
    assert prices.re(r"(\d+)\.(\d+)") == ["12", "50", "7", "99"]
    assert prices.re(r"[\d.]+") == ["12.50", "7.99"]
    assert prices.re_first(r"(?P<extract>\d+)\.\d+ EUR") == "12"
    assert prices.re_first(r"USD") is None
    assert prices.re_first(r"USD", default="?") == "?"
    assert page.css("a")[1].re(r'href="([^"]+)"') == ["/p/2"]  # element: on its markup


def test_broken_html_still_yields_links_and_text() -> None:
    broken = b"<div><a href=/one>One<p>two</div></a><a href='/two'>Three <b>bold<table><tr><td>cell"
    sel = Selector.from_html(broken, "utf-8")
    assert sel.css("a::attr(href)").getall() == ["/one", "/two"]
    assert "cell" in sel.css("td::text").getall()
    assert sel.xpath("string((//a)[2])").get().startswith("Three bold")


@pytest.mark.parametrize("body", [b"", b"   \n\t ", b"\x00"])
def test_empty_body_gives_empty_results(body: bytes) -> None:
    sel = Selector.from_html(body, "utf-8")
    assert sel.css("a::attr(href)").getall() == []
    assert sel.xpath("//p/text()").get() is None
    assert sel.css("title::text").get(default="") == ""


def test_encodings_unknown_to_libxml2_are_decoded() -> None:
    sel = Selector.from_html("<p>Grüße €</p>".encode("utf-16-le"), "utf-16-le")
    assert sel.css("p::text").get() == "Grüße €"
    latin = Selector.from_html("<p>café</p>".encode("latin-1"), "latin-1")
    assert latin.css("p::text").get() == "café"


def test_xml_with_namespaces() -> None:
    feed = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <entry><title>One</title><media:thumbnail url="http://x/1.png"/></entry>
  <entry><title>Two</title></entry>
</feed>"""
    sel = Selector.from_xml(feed)
    ns = {"a": "http://www.w3.org/2005/Atom", "m": "http://search.yahoo.com/mrss/"}
    assert sel.type == "xml"
    assert sel.xpath("//a:entry/a:title/text()", namespaces=ns).getall() == ["One", "Two"]
    assert sel.xpath("//m:thumbnail/@url", namespaces=ns).get() == "http://x/1.png"
    entry = sel.xpath("//a:entry", namespaces=ns)[0]
    assert entry.xpath("a:title/text()", namespaces=ns).get() == "One"
    assert entry.get().startswith("<entry") and entry.get().endswith("</entry>")
    assert Selector.from_xml(b"").xpath("//loc/text()").getall() == []


def test_xml_external_entity_is_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    payload = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]><r>&x;</r>'.encode()
    sel = Selector.from_xml(payload)
    outputs = [
        sel.get(),
        sel.text,
        sel.xpath("string(/r)").get(),
        *sel.xpath("//text()").getall(),
        *sel.css("r::text").getall(),
    ]
    assert sel.xpath("//text()").getall() == []
    assert sel.xpath("string(/r)").get() == ""
    assert not any("TOP-SECRET-42" in out for out in outputs)


@pytest.mark.parametrize("query", ["a[", "p::text span", "p::before", "a::attr(1)", ":nope"])
def test_invalid_css_raises_value_error(page: Selector, query: str) -> None:
    with pytest.raises(ValueError, match="invalid CSS selector"):
        page.css(query)


@pytest.mark.parametrize("query", ["//a[", "//*[", "///"])
def test_invalid_xpath_raises_value_error(page: Selector, query: str) -> None:
    with pytest.raises(ValueError, match="invalid XPath"):
        page.xpath(query)
    with pytest.raises(ValueError, match="Undefined variable"):
        page.xpath("//a[@href=$missing]")
