"""CrawlSpider rules and LinkExtractor: which links are followed, and to which callback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from conftest import Site

from harvester import CrawlSpider, Link, LinkExtractor, Rule
from harvester.config import build
from harvester.crawler import crawl
from harvester.response import Response


def page(body: str, url: str = "http://shop.test/dir/page.html") -> Response:
    return Response(url, 200, httpx.Headers({"Content-Type": "text/html"}), body.encode())


NAV = """<html><head><base href="http://shop.test/base/"></head><body>
<div id="nav"><a href="/cat/1">Books</a> <a href="/cat/2#top">Music</a> <a href="/cat/1">again</a></div>
<div class="main">
  <a href="item/7"> The   <b>Dune</b> book </a>
  <a href="http://other.test/x" rel="nofollow">away</a>
  <a href="http://cdn.shop.test/logo.png">logo</a>
  <a href="mailto:shop@shop.test">mail</a> <a href="#">top</a>
  <area href="/map/1">
</div>
"""


def test_links_are_absolute_deduplicated_and_carry_their_text():
    links = LinkExtractor().extract_links(page(NAV))
    assert links == [
        Link("http://shop.test/cat/1", "Books"),
        Link("http://shop.test/cat/2", "Music", fragment="top"),
        Link("http://shop.test/base/item/7", "The Dune book"),
        Link("http://other.test/x", "away", nofollow=True),
        Link("http://shop.test/map/1", ""),
    ]  # the .png is an ignored extension; mailto: and "#" are not pages


def test_allow_deny_and_domains_filter_links():
    response = page(NAV)
    assert [link.url for link in LinkExtractor(allow=r"/cat/", deny=r"/2").extract_links(response)] == [
        "http://shop.test/cat/1"
    ]
    assert [link.url for link in LinkExtractor(deny_domains=["shop.test"]).extract_links(response)] == [
        "http://other.test/x"
    ]
    assert [link.url for link in LinkExtractor(allow_domains="other.test").extract_links(response)] == [
        "http://other.test/x"
    ]
    assert len(LinkExtractor(deny_extensions=[], allow_domains=["shop.test"]).extract_links(response)) == 5


def test_restrict_xpaths_and_css_limit_links_to_a_part_of_the_page():
    response = page(NAV)
    by_xpath = LinkExtractor(restrict_xpaths='//div[@id="nav"]').extract_links(response)
    by_css = LinkExtractor(restrict_css="div#nav").extract_links(response)
    assert (
        [link.url for link in by_xpath]
        == [link.url for link in by_css]
        == ["http://shop.test/cat/1", "http://shop.test/cat/2"]
    )
    assert [link.text for link in LinkExtractor(restrict_text="Dune").extract_links(response)] == ["The Dune book"]


def test_broken_markup_still_yields_its_links():
    broken = '<html><body><div><p>Unclosed <a href="/one">one<a href=/two>two</div></span><a href="three">3'
    assert [link.url for link in LinkExtractor().extract_links(page(broken))] == [
        "http://shop.test/one",
        "http://shop.test/two",
        "http://shop.test/dir/three",
    ]


def test_a_value_naming_the_page_itself_is_no_link_as_in_response_links():
    """Unstripped or made by `process_value`, a blank or fragment-only value is the page itself."""
    response = page('<a href=" #top">top</a> <a href="/keep">keep</a>')
    assert list(response.links()) == ["http://shop.test/keep"]
    assert [link.url for link in LinkExtractor(strip=False).extract_links(response)] == ["http://shop.test/keep"]
    blank = LinkExtractor(process_value=lambda value: " " if value == "/keep" else value)
    assert blank.extract_links(response) == []


def test_a_page_that_is_not_html_has_no_links():
    response = Response(
        "http://shop.test/data.json",
        200,
        httpx.Headers({"Content-Type": "application/json"}),
        b'{"a": "<a href=/x>x</a>"}',
    )
    assert LinkExtractor().extract_links(response) == []


def shop(site: Site) -> None:
    site.page("/", '<a href="/cat/books">books</a> <a href="/login">log in</a> <a href="http://elsewhere.test/">x</a>')
    site.page(
        "/cat/books",
        '<a href="/item/1">Dune</a> <a href="/item/2">Emma</a> <a href="/cat/books?page=2">2</a>'
        ' <a href="/manual.pdf">pdf</a>',
    )
    site.page("/cat/books?page=2", '<a href="/item/3">Ulysses</a> <a href="/cat/books">1</a>')
    for number, title in ((1, "Dune"), (2, "Emma"), (3, "Ulysses")):
        site.page(f"/item/{number}", f'<h1>{title}</h1><a href="/item/{number}/reviews">reviews</a>')
    site.page("/login", "<h1>login</h1>")


class Shop(CrawlSpider):
    name = "shop"
    allowed_domains = ["127.0.0.1"]
    rules = (
        Rule(LinkExtractor(allow=r"/item/\d+$"), callback="parse_item", cb_kwargs={"source": "rule"}),
        Rule(LinkExtractor(allow=r"/cat/", deny=r"/login")),  # no callback: followed
    )

    def parse_start_url(self, response):
        yield {"start": response.url}

    def parse_item(self, response, source):
        yield {"title": response.css("h1::text").get(), "source": source}


def run(tmp_path: Path, spider: type, urls: list[str]):
    spider.start_urls = urls
    return asyncio.run(crawl(build({"fetch": {"obey_robots": False, "retries": 0}}, root=tmp_path), spider))


def test_rules_send_links_to_their_callbacks_and_follow_as_told(tmp_path, site: Site, sql):
    shop(site)
    result = run(tmp_path, Shop, [site.url + "/"])
    titles = sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.title') from items") if row[0])
    assert titles == ["Dune", "Emma", "Ulysses"]
    assert sql(tmp_path, "select count(*) from items where json_extract(data, '$.source') = 'rule'") == [(3,)]
    assert sql(tmp_path, "select json_extract(data, '$.start') from items where data like '%start%'") == [
        (site.url + "/",)
    ]
    assert site.hits["/login"] == 0 and site.hits["/manual.pdf"] == 0
    assert site.hits["/item/1/reviews"] == 0  # the item rule has a callback, so it does not follow
    assert site.hits["/cat/books"] == 1
    assert result.stats.errors == 0


def test_matches_applies_the_extractors_rules_to_one_url_as_scrapys_does():
    extractor = LinkExtractor(
        allow=r"/books/", deny=r"/books/draft", allow_domains=["shop.test"], deny_extensions=["pdf"]
    )
    assert extractor.matches("http://shop.test/books/1.html")
    assert extractor.matches("http://www.shop.test/books/2.html")  # a subdomain of an allowed domain
    assert not extractor.matches("http://shop.test/about.html")  # not allowed
    assert not extractor.matches("http://shop.test/books/draft-3.html")  # denied
    assert not extractor.matches("http://other.test/books/1.html")  # another domain
    assert not extractor.matches("http://shop.test/books/4.pdf")  # a denied extension
