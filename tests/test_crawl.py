"""A whole crawl over a real loopback site: every page once, off-site and duplicates skipped."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from conftest import Site

from harvester import Request, Spider
from harvester.config import build
from harvester.crawler import crawl

PAGES = 300


def build_site(site: Site, offsite: Site) -> None:
    rng = random.Random(5)
    for i in range(PAGES):
        links = [f"/p/{(i + 1) % PAGES}.html"]
        for _ in range(5):
            j = rng.randrange(PAGES)
            links += [f"{j}.html", f"{site.url}/p/{j}.html#top", f"/p/./{j}.html"]
        links += [f"{offsite.url}/p/{i}.html", "mailto:someone@example.org", "#self"]
        anchors = "".join(f'<a href="{href}">link</a>' for href in links)
        site.page(f"/p/{i}.html", f"<html><h1>Page {i}</h1><p class=n>{i * 7}</p>{anchors}</html>")
    site.page(
        "/", '<a href="/p/0.html">start</a> <a href="/p/0.html?b=2&a=1">q1</a> <a href="/p/0.html?a=1&b=2">q2</a>'
    )
    site.page("/p/0.html?a=1&b=2", "<h1>query</h1>")
    site.page("/p/0.html?b=2&a=1", "<h1>query</h1>")


class Pages(Spider):
    name = "pages"

    def parse(self, response):
        title = response.css("h1::text").get()
        if title and title.startswith("Page "):
            yield {"title": title, "n": int(response.css("p.n::text").get())}
        for link in response.links():
            yield response.follow(link)


def settings(tmp_path: Path, **fetch: object):
    return build(
        {
            "storage": {"url": "sqlite:///harvest.db"},
            "fetch": {"concurrency": 16, "retries": 2, "backoff": 0.05, "timeout": 10, **fetch},
        },
        root=tmp_path,
    )


def run_crawl(tmp_path: Path, spider_cls: type[Spider], **fetch: object):
    return asyncio.run(crawl(settings(tmp_path, **fetch), spider_cls))


def test_every_page_is_fetched_once_and_offsite_links_are_skipped(tmp_path, site, other_site, sql):
    build_site(site, other_site)
    Pages.start_urls = [site.url + "/"]
    Pages.allowed_domains = ["127.0.0.1"]
    run = run_crawl(tmp_path, Pages, obey_robots=False)

    assert run.status == "finished"
    page_hits = {path: n for path, n in site.hits.items() if path.startswith("/p/") and path.endswith(".html")}
    assert len(page_hits) == PAGES
    assert set(page_hits.values()) == {1}
    assert site.hits["/p/0.html?a=1&b=2"] + site.hits["/p/0.html?b=2&a=1"] == 1  # one page
    assert sum(other_site.hits.values()) == 0
    items = sql(tmp_path, "select url, data from items order by id")
    assert len(items) == PAGES
    assert run.stats.items == PAGES
    assert run.stats.filtered["offsite"] > 0 and run.stats.filtered["duplicate"] > 0


def test_items_hold_the_values_and_the_page_they_came_from(tmp_path, site, other_site, sql):
    build_site(site, other_site)
    Pages.start_urls = [site.url + "/"]
    Pages.allowed_domains = ["127.0.0.1"]
    run_crawl(tmp_path, Pages, obey_robots=False)

    rows = sql(tmp_path, "select json_extract(data, '$.n'), json_extract(data, '$.title'), url, spider from items")
    by_n = {n: (title, url, spider) for n, title, url, spider in rows}
    assert by_n[7 * 42] == ("Page 42", f"{site.url}/p/42.html", "pages")
    assert sorted(by_n) == [7 * i for i in range(PAGES)]
    ((status, stats),) = sql(tmp_path, "select status, stats from runs")
    assert status == "finished"
    assert '"items": 300' in stats
    pages = sql(tmp_path, "select count(*), count(distinct url), min(status), max(status) from pages")
    assert pages == [(PAGES + 2, PAGES + 2, 200, 200)]


def test_depth_limit_stops_following(tmp_path, site, other_site, sql):
    build_site(site, other_site)

    class Chain(Spider):
        name = "chain"
        start_urls = [site.url + "/p/0.html"]

        def parse(self, response):
            yield {"url": response.url}
            yield response.follow(f"{int(response.url.rsplit('/', 1)[1].split('.')[0]) + 1}.html")

    asyncio.run(crawl(build({"crawl": {"depth_limit": 3}, "fetch": {"obey_robots": False}}, root=tmp_path), Chain))
    assert sql(tmp_path, "select count(*) from items") == [(4,)]


def test_callbacks_may_be_async_generators_and_return_single_values(tmp_path, site, sql):
    site.page("/", '<a href="/a">a</a>')
    site.page("/a", "<h1>A</h1>")

    class Mixed(Spider):
        name = "mixed"
        start_urls = [site.url + "/"]

        async def parse(self, response):
            yield {"page": "root"}
            yield Request(site.url + "/a", callback="parse_a")

        def parse_a(self, response):
            return {"page": response.css("h1::text").get()}

    run_crawl(tmp_path, Mixed, obey_robots=False)
    assert sorted(sql(tmp_path, "select json_extract(data, '$.page') from items")) == [("A",), ("root",)]


def test_a_failing_callback_is_recorded_and_the_crawl_goes_on(tmp_path, site, sql):
    site.page("/", '<a href="/bad">bad</a><a href="/good">good</a>')
    site.page("/bad", "<h1>bad</h1>")
    site.page("/good", "<h1>good</h1>")

    class Fragile(Spider):
        name = "fragile"
        start_urls = [site.url + "/"]

        def parse(self, response):
            title = response.css("h1::text").get()
            if title == "bad":
                yield {"before": "failure"}
                raise ValueError("cannot parse this one")
            if title:
                yield {"title": title}
            yield from response.follow_all()

    run = run_crawl(tmp_path, Fragile, obey_robots=False)
    assert run.status == "finished"
    assert sql(tmp_path, "select kind, url, message from errors") == [
        ("spider", f"{site.url}/bad", "parse: ValueError: cannot parse this one")
    ]
    assert len(sql(tmp_path, "select * from items")) == 2


def test_a_crawl_can_run_twice_in_one_process(tmp_path, site, sql):
    site.page("/", "<h1>x</h1>")

    class Once(Spider):
        name = "once"
        start_urls = [site.url + "/"]

        def parse(self, response):
            yield {"title": response.css("h1::text").get()}

    run_crawl(tmp_path, Once, obey_robots=False)
    run_crawl(tmp_path, Once, obey_robots=False)
    assert sql(tmp_path, "select run_id, count(*) from items group by run_id") == [(1, 1), (2, 1)]
