"""Links and URLs in bounded memory: a page of a million links, one nested a million deep, long URLs;
and a page nested deeper than the tree parser goes is a recorded `parse` error for rule-driven spiders.

Each is measured as the peak RSS of a child process (`os.wait4` gives that
process's own figure), never of the test process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap

from conftest import REPO, Project, Site

from harvester import CrawlSpider, LinkExtractor, Rule
from harvester.config import build
from harvester.crawler import crawl

LINKS = 1_000_000

MANY_SPIDER = """
from harvester import Request, Spider

class Many(Spider):
    name = "many"
    base = ""

    def start_requests(self):
        yield Request(self.base + "/page")

    def parse(self, response):
        count = 0
        for link in response.links():
            count += 1
            if count % 250_000 == 0:
                yield response.follow(link, callback=self.leaf)
        yield {"links": count}

    def leaf(self, response):
        yield {"leaf": response.url}
"""


def peak_mb(command: list[str], cwd: str, timeout: float = 300) -> float:
    """Run `command` in a child process; its own peak RSS in MB (a wrapper reads it with `os.wait4`)."""
    wrapper = (
        "import os, subprocess, sys; child = subprocess.Popen(sys.argv[1:]); "
        "_, status, usage = os.wait4(child.pid, 0); print(usage.ru_maxrss, status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=timeout,
    )
    rss, status = done.stdout.split()[-2:]
    assert status == "0", done.stderr[-2000:]
    return int(rss) / 1024


def test_a_page_of_a_million_links_is_crawled_in_bounded_memory(project: Project, site: Site) -> None:
    body = "".join(f'<a href="/p/{i:07d}">x</a>' for i in range(LINKS)).encode()  # 26 MB
    site.page("/page", b"<html><body>" + body + b"</body></html>")
    for i in range(250_000 - 1, LINKS, 250_000):
        site.page(f"/p/{i:07d}", "<html><body>leaf</body></html>")
    project.spider("many", MANY_SPIDER)

    peak = peak_mb([sys.executable, "-m", "harvester", "crawl", "many", "-a", f"base={site.url}"], str(project.root))

    items = [json.loads(row[0]) for row in project.sql("select data from items")]
    assert {"links": LINKS} in items
    assert sorted(item["leaf"] for item in items if "leaf" in item) == [
        f"{site.url}/p/{i:07d}" for i in range(250_000 - 1, LINKS, 250_000)
    ]
    assert project.sql("select count(*) from errors") == [(0,)]
    assert peak < 400, f"peak RSS {peak:.0f} MB"  # main: 1.18 GB (a tree, a list of URLs, a list of Requests)


DEEP_SPIDER = """
from harvester import Spider

class Deep(Spider):
    name = "deep"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/deep"]

    def parse(self, response):
        yield {"url": response.url}
        yield from response.follow_all()
"""


def test_links_after_a_million_nested_elements_are_not_lost(project: Project, site: Site) -> None:
    depth = 1_000_000
    body = (
        b"<html><body><a href='/before'>b</a>"
        + b"<div>" * depth
        + b"</div>" * depth
        + b"<a href='/after'>a</a></body></html>"
    )
    site.page("/deep", body)
    site.page("/before", "<p>before</p>")
    site.page("/after", "<p>after</p>")
    project.spider("deep", DEEP_SPIDER)

    peak = peak_mb([sys.executable, "-m", "harvester", "crawl", "deep", "-a", f"base={site.url}"], str(project.root))

    assert site.hits["/before"] == site.hits["/after"] == 1
    assert project.sql("select count(*) from errors") == [(0,)]
    assert peak < 300, f"peak RSS {peak:.0f} MB"


LONG_URLS = textwrap.dedent("""
    from harvester import Request

    seen = set()
    for i in range(4200):
        url = f"HTTP://127.0.0.1/{i}/%7e" + "x" * 180_000 + "?b=2&a=1"  # 180 KB, not in canonical form
        seen.add(Request(url).fingerprint)
    assert len(seen) == 4200
""")


def test_4200_long_non_canonical_urls_are_fingerprinted_in_bounded_memory(tmp_path) -> None:
    peak = peak_mb([sys.executable, "-c", LONG_URLS], str(tmp_path))
    assert peak < 150, f"peak RSS {peak:.0f} MB"  # main: 1.2 GB (a URL cache of 4,096 entries of any size)


class DeepRules(CrawlSpider):
    name = "deep-rules"
    rules = (Rule(LinkExtractor(), callback="parse_page", follow=True),)

    def parse_page(self, response):
        yield {"url": response.url}


def test_a_page_nested_deeper_than_the_tree_parser_goes_is_a_parse_error_for_rules(tmp_path, site: Site) -> None:
    site.page("/", "<html><body><a href='/deep'>deep</a></body></html>")
    site.page(
        "/deep",
        "<html><body><a href='/before'>b</a>"
        + "<div>" * 1000
        + "</div>" * 1000
        + "<a href='/after'>a</a></body></html>",
    )
    site.page("/before", "<p>before</p>")
    site.page("/after", "<p>after</p>")
    DeepRules.start_urls = [site.url + "/"]
    settings = build(
        {"storage": {"url": "sqlite:///harvest.db"}, "fetch": {"retries": 0, "timeout": 10, "obey_robots": False}},
        root=tmp_path,
    )
    run = asyncio.run(crawl(settings, DeepRules))

    assert run.status == "finished"
    with sqlite3.connect(tmp_path / "harvest.db") as db:
        errors = db.execute("select url, kind, message from errors").fetchall()
    assert [(url, kind) for url, kind, _ in errors] == [(site.url + "/deep", "parse")]
    assert "depth" in errors[0][2]
