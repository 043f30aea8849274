"""Selector and response habits of Scrapy users (parsel's API) work as they do in Scrapy.

`follow_all(css=, xpath=)`, `.extract()`/`.extract_first()`, XPath `has-class()`,
`Selector(text=html)`, `Selector(response)`, `.re()` and `response.jmespath()`: first
as a spider uses them in a crawl through the real CLI, then each one's details, with
the expectations of parsel's and Scrapy's own tests.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from lxml import etree

from harvester import Link, Request, Response, Selector, SelectorList

HOME = """<!DOCTYPE html>
<html><head><title>Shop</title>
  <link rel="next" href="/api/products.json">
  <link rel="stylesheet" href="/static/main.css">
</head><body>
  <ul class="pager">
    <li><a href="/shelf/1"> One </a></li>
    <li><a>no href: skipped</a></li>
    <li><a href="
      /shelf/2 ">Two</a></li>
  </ul>
</body></html>"""

SHELF = """<html><body>
  <h1>Shelf {n}</h1>
  <div class="product featured"><h2>Tea {n}</h2><span class="price">&euro;{n}.50</span></div>
  <div class="product"><h2>Coffee {n}</h2><span class="price">&euro;{n}.90</span></div>
  <script type="application/json" id="data">{{"shelf": {n}, "stock": [3, 4]}}</script>
</body></html>"""

PRODUCTS = {"products": [{"name": "Tea", "tags": ["green"]}, {"name": "Cocoa", "tags": []}], "total": 2}

HABITS_SPIDER = """
from harvester import Selector, Spider


class Habits(Spider):
    name = "habits"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/"]

    def parse(self, response):
        yield from response.follow_all(css="ul.pager a", callback=self.parse_shelf)
        yield from response.follow_all(xpath="//link[@rel='next']", callback=self.parse_api)

    def parse_shelf(self, response):
        featured = response.xpath('//div[has-class("product", "featured")]')
        fragment = Selector(text=featured.extract_first())
        script = response.css("script#data::text")
        yield {
            "shelf": response.css("h1::text").extract_first(),
            "featured": fragment.css("h2::text").extract_first(),
            "products": response.css("div.product h2::text").extract(),
            "prices": response.css("span.price").re(r"€[\\d.]+"),
            "stock": script.jmespath("stock").getall(),
            "missing": response.css("h3::text").extract_first(default="none"),
        }

    def parse_api(self, response):
        for name in response.jmespath("products[*].name").getall():
            yield {"product": name, "total": response.jmespath("total").get()}
"""


def html_response(
    body: str, url: str = "http://shop.test/dir/page.html", content_type: str = "text/html; charset=utf-8"
) -> Response:
    return Response(
        url=url, status=200, headers=httpx.Headers({"Content-Type": content_type}), body=body.encode("utf-8")
    )


# --- a crawl through the real CLI -------------------------------------------------------


def test_a_spider_written_with_scrapy_habits_crawls_through_the_cli(project, site) -> None:
    site.page("/", HOME)
    for n in (1, 2):
        site.page(f"/shelf/{n}", SHELF.format(n=n))
    site.page("/api/products.json", json.dumps(PRODUCTS), content_type="application/json")
    project.spider("habits", HABITS_SPIDER)

    done = project.run("crawl", "habits", "-a", f"base={site.url}", "-o", "items.jsonl", timeout=120)

    assert done.returncode == 0, done.stderr
    items = [json.loads(line) for line in (project.root / "items.jsonl").read_text().splitlines()]
    shelves = sorted((i for i in items if "shelf" in i), key=lambda i: i["shelf"])
    assert shelves == [
        {
            "shelf": f"Shelf {n}",
            "featured": f"Tea {n}",
            "products": [f"Tea {n}", f"Coffee {n}"],
            "prices": [f"€{n}.50", f"€{n}.90"],
            "stock": [3, 4],
            "missing": "none",
        }
        for n in (1, 2)
    ]
    assert sorted((i["product"], i["total"]) for i in items if "product" in i) == [("Cocoa", 2), ("Tea", 2)]
    assert site.hits["/shelf/1"] == site.hits["/shelf/2"] == site.hits["/api/products.json"] == 1
    assert site.hits["/static/main.css"] == 0  # <link rel=stylesheet> was not selected
    assert project.sql("select count(*) from errors") == [(0,)]


# --- follow_all -------------------------------------------------------------------------


def test_follow_all_css_follows_anchor_hrefs_and_skips_anchors_without_one() -> None:
    response = html_response(HOME)
    requests = list(response.follow_all(css="ul.pager a", callback="parse_shelf", priority=3))
    assert [r.url for r in requests] == ["http://shop.test/shelf/1", "http://shop.test/shelf/2"]
    assert all(isinstance(r, Request) and r.callback == "parse_shelf" and r.priority == 3 for r in requests)


def test_follow_all_takes_link_elements_attribute_values_and_selector_lists() -> None:
    response = html_response(HOME)
    assert [r.url for r in response.follow_all(xpath="//link")] == [
        "http://shop.test/api/products.json",
        "http://shop.test/static/main.css",
    ]
    assert [r.url for r in response.follow_all(css="link[rel=next]::attr(href)")] == [
        "http://shop.test/api/products.json"
    ]
    assert [r.url for r in response.follow_all(response.css("li a"))] == [
        "http://shop.test/shelf/1",
        "http://shop.test/shelf/2",
    ]
    assert list(response.follow_all(css="ul.pager li")) == []  # not <a>/<link>: nothing to follow


def test_follow_all_takes_urls_links_and_selectors_and_one_source_only() -> None:
    response = html_response(HOME)
    anchor = response.css("ul.pager a")[0]
    given = ["other.html", "/root", Link("http://else.test/x"), anchor]
    assert [r.url for r in response.follow_all(given)] == [
        "http://shop.test/dir/other.html",
        "http://shop.test/root",
        "http://else.test/x",
        "http://shop.test/shelf/1",
    ]
    assert [r.url for r in response.follow_all()] == [  # none given: the page's links()
        "http://shop.test/shelf/1",
        "http://shop.test/shelf/2",
    ]
    with pytest.raises(ValueError, match="one of urls, css or xpath"):
        response.follow_all(["a"], css="a")
    with pytest.raises(TypeError):
        response.follow_all("http://shop.test/one-url")


# --- extract, extract_first, re -----------------------------------------------------------


def test_extract_and_extract_first_are_get_and_getall() -> None:
    sel = Selector(text="<ul><li>one</li><li>two</li></ul>")
    items = sel.css("li::text")
    assert items.extract() == items.getall() == ["one", "two"]
    assert items.extract_first() == items.get() == "one"
    assert sel.css("p::text").extract_first() is None
    assert sel.css("p::text").extract_first(default="") == ""
    assert sel.css("li")[1].extract() == "<li>two</li>"
    assert isinstance(sel.css("li")[0:1], SelectorList)


def test_re_replaces_entities_but_lt_and_amp_as_parsel_does() -> None:
    sel = Selector(text="""<script>{"foo":"bar &amp; &quot;baz&quot;"}</script>""")
    pattern = re.compile('{"foo":(.*)}')
    assert sel.xpath("//script").re(pattern) == ['"bar &amp; "baz""']
    assert sel.xpath("//script/text()").re_first(pattern) == '"bar &amp; "baz""'
    assert sel.xpath("//script")[0].re(pattern, replace_entities=False) == ['"bar &amp; &quot;baz&quot;"']
    assert Selector(text="<div>Evento: cumplea\xf1os</div>").xpath("//div").re(r"Evento: (\w+)") == ["cumpleaños"]
    assert sel.css("nothing").re_first(r".", default="-") == "-"


def test_re_with_a_group_named_extract_gives_its_first_match() -> None:
    prices = Selector(text="<p>12.50 EUR and 7.99 EUR</p>").css("p::text")
    assert prices.re(r"(?P<extract>[\d.]+) EUR") == ["12.50"]
    assert prices.re(r"([\d]+)\.(\d+)") == ["12", "50", "7", "99"]


# --- has-class ------------------------------------------------------------------------------


def test_xpath_has_class_matches_every_class_named() -> None:
    sel = Selector(
        text="""
        <p class="foo bar-baz">First</p><p class="foo">Second</p>
        <p class="bar">Third</p><p>Fourth</p>
        <p CLASS="foo
        tabbed\tword">Fifth</p><p class="fóó">Sixth</p>"""
    )
    assert sel.xpath('//p[has-class("foo")]/text()').getall() == ["First", "Second", "Fifth"]
    assert sel.xpath('//p[has-class("bar")]/text()').getall() == ["Third"]
    assert sel.xpath('//p[has-class("foo", "bar")]/text()').getall() == []
    assert sel.xpath('//p[has-class("foo", "bar-baz")]/text()').getall() == ["First"]
    assert sel.xpath('//p[has-class("word")]/text()').getall() == ["Fifth"]
    assert sel.xpath('//p[has-class("fóó")]/text()').getall() == ["Sixth"]
    assert sel.xpath('//text()[has-class("foo")]').getall() == []  # text nodes have no class


def test_has_class_without_or_with_non_string_arguments_is_an_error() -> None:
    sel = Selector(text='<p class="foo">First</p>')
    with pytest.raises(ValueError, match="has-class must have at least 1 argument"):
        sel.xpath("has-class()")
    with pytest.raises(ValueError, match="has-class arguments must be strings"):
        sel.xpath("has-class(.)")


# --- Selector(text=), Selector(response), Selector(root=) ----------------------------------


def test_selector_from_text_parses_html_as_scrapy() -> None:
    sel = Selector(text="<root>lala</root>")
    assert sel.type == "html"
    assert sel.extract() == "<html><body><root>lala</root></body></html>"
    assert Selector(text='<div><img src="a.jpg"><p>Hello</div>').xpath("//div").getall() == [
        '<div><img src="a.jpg"><p>Hello</p></div>'
    ]
    assert Selector("<p>positional text, as parsel</p>").css("p::text").get() == "positional text, as parsel"
    assert Selector(text="foo").type == "html"
    assert Selector(text="").xpath("//text()").getall() == []
    assert Selector(text="<root>pre\x00post</root>").xpath("//text()").getall() == ["prepost"]
    html_latin = '<head><meta charset="iso-8859-1"></head><body><span id="blank">\xa3</span></body>'
    assert Selector(text=html_latin).xpath("//span/text()").getall() == ["£"]  # text is decoded already


def test_selector_from_text_as_xml_or_plain_text() -> None:
    xml = Selector(text='<div><img src="a.jpg"><p>Hello</div>', type="xml")
    assert xml.type == "xml"
    assert xml.xpath("//div").getall() == ['<div><img src="a.jpg"><p>Hello</p></img></div>']
    declared = Selector(text='<?xml version="1.0" encoding="ISO-8859-1"?><r><a>café</a></r>', type="xml")
    assert declared.xpath("//a/text()").get() == "café"
    plain = Selector(text="<b>bold</b> words", type="text")
    assert plain.get() == "<b>bold</b> words"
    assert plain.css("b::text").get() == "bold"  # queried as HTML, as parsel


def test_selector_over_json_text_and_json_roots() -> None:
    for text, value in (
        ("{}", {}),
        ('{"a": "b"}', {"a": "b"}),
        ("[]", []),
        ('["a"]', ["a"]),
        ('""', ""),
        ("0", 0),
        ("1", 1),
        ("true", True),
        ("null", None),
    ):
        assert (Selector(text=text).type, Selector(text=text).root) == ("json", value)
        assert (Selector(root=value).type, Selector(root=value).root) == ("json", value)
    invalid = Selector(text="<html/>", type="json")
    assert (invalid.type, invalid.root) == ("json", None)
    with pytest.raises(ValueError, match="jmespath"):
        Selector(root=1).css("*")


def test_selector_from_a_response_or_an_lxml_root() -> None:
    response = html_response("<html><body><h1>Title</h1></body></html>")
    assert Selector(response).css("h1::text").get() == "Title"
    assert Selector(response=response).xpath("//h1/text()").get() == "Title"
    api = html_response('{"a": [1, 2]}', content_type="application/json")
    assert Selector(api).type == "json" and Selector(api).jmespath("a[1]").get() == 2
    feed = html_response("<rss><item><title>T</title></item></rss>", content_type="application/rss+xml")
    assert Selector(feed).type == "xml" and Selector(feed).xpath("//item/title/text()").get() == "T"
    root = etree.fromstring("<r><a>x</a></r>")
    assert Selector(root=root, type="xml").xpath("//a/text()").get() == "x"
    with pytest.raises(ValueError):
        Selector()
    with pytest.raises(ValueError):
        Selector(text="<p/>", root=root)


def test_remove_namespaces_lets_plain_names_match() -> None:
    sel = Selector(
        text="""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <link type="text/html"/><entry><link type="text/html"/></entry><media:thumbnail url="x"/>
</feed>""",
        type="xml",
    )
    assert len(sel.xpath("//link")) == 0
    sel.remove_namespaces()
    assert len(sel.xpath("//link")) == 2
    assert sel.xpath("//thumbnail/@url").get() == "x"


def test_a_selected_empty_string_is_false_as_in_parsel() -> None:
    hrefs = Selector(text='<a href="">false</a><a href="nonempty">true</a>').xpath("//a/@href")
    assert not hrefs[0] and hrefs[1]
    assert Selector(text="<p><input name='a' value='1'/></p>").xpath("//input/@name='a'").getall() == ["1"]


# --- jmespath -------------------------------------------------------------------------------


def test_response_jmespath_on_a_json_api() -> None:
    response = html_response(json.dumps(PRODUCTS), "http://shop.test/api", "application/json")
    assert response.jmespath("products[*].name").getall() == ["Tea", "Cocoa"]
    assert response.jmespath("total").get() == 2
    assert response.jmespath("products[0].tags").getall() == ["green"]
    assert response.jmespath("products[?name=='Cocoa'].tags[]").getall() == []
    assert response.jmespath("missing").get() is None
    assert response.jmespath("missing").get(default="n/a") == "n/a"


def test_response_jmespath_reads_json_served_as_html_and_nothing_from_html() -> None:
    assert html_response('{"ok": true}').jmespath("ok").get() is True
    assert html_response("<html><body>{}</body></html>").jmespath("@").getall() == []
    assert html_response("{not json", content_type="application/json").jmespath("a").getall() == []


def test_jmespath_on_json_holding_html_and_html_holding_json() -> None:
    sel = Selector(
        text=json.dumps(
            {
                "content": [{"name": "A"}, {"name": {"age": 18}}],
                "html": "<div><a>a<br>b</a>c</div><div><a>d</a>e<b>f</b></div>",
            }
        )
    )
    assert sel.jmespath("html").xpath("//div/a/text()").getall() == ["a", "b", "d"]
    assert sel.jmespath("html").css("div > b").getall() == ["<b>f</b>"]
    assert sel.jmespath("content").jmespath("name.age").get() == 18
    page = Selector(
        text="""<div><content>{"user": [{"name": "A", "age": 18}, {"name": "B", "age": 32}],
                            "total": 2}</content></div>"""
    )
    assert page.xpath("//div/content/text()").jmespath("user[*].name").getall() == ["A", "B"]
    assert page.xpath("//div/content").jmespath("total").get() == 2
    assert page.xpath("//div/content").jmespath("user[*].age.to_string(@)").re(r"\d+") == ["18", "32"]
    assert page.xpath("//div/content").jmespath("unavailable").re_first(r"\d+") is None
    with pytest.raises(TypeError):  # numbers are not text: no regex on them
        page.xpath("//div/content").jmespath("user[*].age").re(r"\d+")
