"""data: URLs (RFC 2397) in whole crawls: requested on purpose they are pages; as links or redirects, never."""

from __future__ import annotations

import asyncio
import base64

from harvester import Request, Spider
from harvester.config import build
from harvester.crawler import crawl
from harvester.transports.data import parse_data_url


class Keep(Spider):
    """An item per page: its URL, status, content type and text; every link followed."""

    name = "keep"

    def parse(self, response):
        yield {"url": response.url, "type": response.headers.get("content-type"), "text": response.text}
        yield from response.follow_all()


def run(tmp_path, urls, spider=Keep, **fetch):
    spider.start_urls = list(urls)
    options = {"retries": 0, "timeout": 5, "obey_robots": False, **fetch}
    return asyncio.run(crawl(build({"fetch": options}, root=tmp_path), spider))


def items(sql, tmp_path):
    rows = sql(
        tmp_path,
        "select json_extract(data, '$.url'), json_extract(data, '$.type'), "
        "json_extract(data, '$.text') from items order by id",
    )
    return {url: (kind, text) for url, kind, text in rows}


def test_a_data_start_url_is_a_page_with_its_media_type_and_body(tmp_path, sql):
    html = "<h1>caf\u00e9</h1>"
    encoded = base64.b64encode(html.encode("utf-8")).decode()
    urls = [
        f"data:text/html;charset=utf-8;base64,{encoded}",
        "data:,Hello%2C%20World!",
        "data:application/json,%7B%22a%22%3A1%7D",
    ]
    result = run(tmp_path, urls)
    got = items(sql, tmp_path)
    assert got[urls[0]] == ("text/html;charset=utf-8", html)
    assert got[urls[1]] == ("text/plain;charset=US-ASCII", "Hello, World!")
    assert got[urls[2]] == ("application/json", '{"a":1}')
    assert sorted(sql(tmp_path, "select status, content_type, size from pages")) == [
        (200, "application/json", 7),
        (200, "text/html;charset=utf-8", 14),
        (200, "text/plain;charset=US-ASCII", 13),
    ]
    assert result.stats.errors == 0


def test_links_on_a_data_page_are_followed_but_data_links_on_pages_are_not(tmp_path, site, sql):
    inline = "data:text/html,<h1>inline</h1>"
    site.page("/", f'<a href="{inline}">inline</a><a href="/next">next</a>')
    site.page("/next", "<h1>next</h1>")
    start = f'data:text/html,<a href="{site.url}/">site</a>'
    result = run(tmp_path, [start])
    urls = {url for (url,) in sql(tmp_path, "select url from pages")}
    assert urls == {Request(start).url, site.url + "/", site.url + "/next"}  # the inline data: link left out
    assert result.stats.errors == 0


def test_a_data_url_the_spider_asks_for_is_fetched(tmp_path, site, sql):
    site.page("/", "<p>page</p>")

    class Asks(Spider):
        name = "asks"

        def parse(self, response):
            yield {"url": response.url, "text": response.text}
            if response.url.startswith("http"):
                yield response.follow("data:,asked%20for")  # on purpose, as Scrapy's data: handler allows

    run(tmp_path, [site.url + "/"], spider=Asks)
    texts = sorted(text for (text,) in sql(tmp_path, "select json_extract(data, '$.text') from items"))
    assert texts == ["<p>page</p>", "asked for"]


def test_a_redirect_to_a_data_url_is_refused(tmp_path, site, sql):
    site.page("/to-data", "", status=302, headers={"Location": "data:text/html,<h1>x</h1>"})
    run(tmp_path, [site.url + "/to-data"])
    assert sql(tmp_path, "select kind, url from errors") == [("redirect", site.url + "/to-data")]
    assert sql(tmp_path, "select count(*) from items") == [(0,)]


def test_a_data_url_over_max_size_is_refused_and_the_crawl_goes_on(tmp_path, sql):
    big = "data:;base64," + base64.b64encode(b"x" * 4096).decode()
    result = run(tmp_path, [big, "data:,small"], max_size="1KB")
    assert sql(tmp_path, "select kind from errors") == [("too_large",)]
    assert [text for _, text in items(sql, tmp_path).values()] == ["small"]
    assert result.status == "finished"


def test_a_malformed_data_url_answers_400(tmp_path, sql):
    run(tmp_path, ["data:no-comma", "data:;base64,@@@"])
    assert sql(tmp_path, "select status from pages") == [(400,), (400,)]
    assert {kind for (kind,) in sql(tmp_path, "select kind from errors")} == {"http"}


def test_data_urls_read_as_the_fetch_standard_reads_them():
    assert parse_data_url("data:,") == ("text/plain;charset=US-ASCII", b"")
    assert parse_data_url("data:;charset=utf-8,%C3%A9") == ("text/plain;charset=utf-8", b"\xc3\xa9")
    assert parse_data_url("data:text/plain;base64,SGVs bG8") == ("text/plain", b"Hello")  # whitespace, no padding
    assert parse_data_url("data:image/png;BASE64,iVBORw==") == ("image/png", b"\x89PNG")
    assert parse_data_url("data:text/html,a#fragment") == ("text/html", b"a")
    assert parse_data_url("data:nonsense,x") == ("text/plain;charset=US-ASCII", b"x")
    assert parse_data_url("data:;base64,abcde") is None  # 5 characters: not base64
    assert parse_data_url("data:text/plain") is None
