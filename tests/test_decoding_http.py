"""What the HTTP transport decodes: what it advertises, robots.txt lines, truncated streams."""

from __future__ import annotations

import gzip
import json

from conftest import Project, Site

from harvester.fetching.robots import MAX_BYTES, robots_text

ROBOTS_SPIDER = """
from harvester import Spider

class Polite(Spider):
    name = "polite"
    base = ""
    paths = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + path for path in self.paths.split(",")]

    def parse(self, response):
        yield {"url": response.url}
"""


def obey_robots(project: Project) -> None:
    config = project.root / "harvester.toml"
    config.write_text(config.read_text().replace("obey_robots = false", "obey_robots = true"))


def test_robots_lines_that_are_not_utf8_are_ignored(project: Project, site: Site):
    # Read with replacement, the latin-1 line became "Disallow: /caf%EF%BF%BD/" and blocked those URLs.
    site.routes["/robots.txt"] = lambda h: h.send_text(
        200, b"User-agent: *\nDisallow: /caf\xe9/\nDisallow: /private/\n", "text/plain"
    )
    for path in ("/", "/caf%EF%BF%BD/a", "/private/b"):
        site.page(path, "<html><body>page</body></html>")
    obey_robots(project)
    project.spider("polite", ROBOTS_SPIDER)
    result = project.run("crawl", "polite", "-a", f"base={site.url}", "-a", "paths=/,/caf%EF%BF%BD/a,/private/b")
    assert result.returncode == 0, result.stderr
    fetched = {url for (url,) in project.sql("select json_extract(data, '$.url') from items")}
    assert fetched == {site.url + "/", site.url + "/caf%EF%BF%BD/a"}
    assert project.sql("select url, kind from errors") == [(site.url + "/private/b", "robots")]


def test_robots_text_keeps_utf8_lines_and_its_first_500_kib():
    assert robots_text("\ufeffUser-agent: *\r\nDisallow: /é/\n".encode()) == "User-agent: *\r\nDisallow: /é/\n"
    assert robots_text(b"Allow: /a\nDisallow: /\xff\nDisallow: /b") == "Allow: /a\nDisallow: /b"
    assert len(robots_text(b"#" * (MAX_BYTES + 10))) == MAX_BYTES


def test_a_compressed_robots_txt_that_ends_early_still_rules(project: Project, site: Site):
    rules = gzip.compress(b"User-agent: *\nDisallow: /private/\n" + b"# padding\n" * 2000)
    site.routes["/robots.txt"] = lambda h: h.send_text(
        200, rules[: len(rules) - 12], "text/plain", {"Content-Encoding": "gzip"}
    )
    for path in ("/", "/private/b"):
        site.page(path, "<html><body>page</body></html>")
    obey_robots(project)
    project.spider("polite", ROBOTS_SPIDER)
    result = project.run("crawl", "polite", "-a", f"base={site.url}", "-a", "paths=/,/private/b")
    assert result.returncode == 0, result.stderr
    assert project.sql("select json_extract(data, '$.url') from items") == [(site.url + "/",)]
    assert project.sql("select kind from errors") == [("robots",)]


def test_every_coding_decoded_is_advertised(project: Project, site: Site):
    site.page("/", "<html><body>home</body></html>")
    project.spider("polite", ROBOTS_SPIDER)
    result = project.run("crawl", "polite", "-a", f"base={site.url}", "-a", "paths=/")
    assert result.returncode == 0, result.stderr
    [(_, _, headers)] = site.requests
    assert [c.strip() for c in headers["Accept-Encoding"].split(",")] == ["gzip", "deflate", "br", "zstd"]


FEED_SPIDER = """
from harvester import JSONFeedSpider

class Feed(JSONFeedSpider):
    name = "feed"
    item_path = "item"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/feed.json"]

    def parse_record(self, response, record):
        yield record
"""


def test_a_truncated_streamed_feed_keeps_its_records_with_one_truncated_row(project: Project, site: Site):
    records = [{"n": n, "pad": "x" * 200} for n in range(2000)]
    data = gzip.compress(json.dumps(records).encode())
    cut = data[: len(data) * 3 // 4]
    site.routes["/feed.json"] = lambda h: h.send_text(200, cut, "application/json", {"Content-Encoding": "gzip"})
    project.spider("feed", FEED_SPIDER)
    result = project.run("crawl", "feed", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    [(stored,)] = project.sql("select count(*) from items")
    assert 1000 < stored < 2000  # the records before the cut
    kinds = [kind for (kind,) in project.sql("select kind from errors")]
    assert kinds == ["truncated"], kinds


PAGE_SPIDER = """
from harvester import Spider

class Page(Spider):
    name = "page"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/page"]

    def parse(self, response):
        yield {"size": len(response.body)}
"""


def test_a_truncated_page_is_not_kept_as_the_stored_copy_of_a_later_304(project: Project, site: Site):
    data = gzip.compress(b"<html><body>" + b"<p>para</p>" * 5000 + b"</body></html>")

    def page(h):
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_not_modified('"v1"')
        else:
            h.send_text(200, data[: len(data) // 2], "text/html", {"Content-Encoding": "gzip", "ETag": '"v1"'})

    site.routes["/page"] = page
    project.spider("page", PAGE_SPIDER)
    for _ in range(2):
        result = project.run("crawl", "page", "-a", f"base={site.url}")
        assert result.returncode == 0, result.stderr
    assert [kind for (kind,) in project.sql("select kind from errors")] == ["truncated", "truncated"]
    assert all("If-None-Match" not in headers for _, _, headers in site.requests)
