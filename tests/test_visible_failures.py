"""Failures a user sees: each error on stderr as it happens (kind, URL, cause), a spider's
exception with its stack, repeats counted instead of flooding, the closing lines by kind,
robots.txt that could not be fetched named as the cause, -v/-q/--logfile, and the exit status."""

from __future__ import annotations

import socket
import stat

from conftest import Project, Site
from test_cli import add_spider, serve_three_pages

RAISING = """
from harvester import Spider


class Raising(Spider):
    name = "raising"
    start_urls = ["{url}/"]

    def parse(self, response):
        yield from response.follow_all()
        if "/p/" in response.url:
            raise ValueError("no price on " + response.url.rsplit("/", 1)[1])
"""

ROBOTS = """
from harvester import Spider


class Polite(Spider):
    name = "polite"
    start_urls = {urls!r}
"""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def error_lines(stderr: str, kind: str) -> list[str]:
    return [line for line in stderr.splitlines() if f"harvester.errors: {kind} error" in line]


def test_a_spider_exception_is_logged_with_url_cause_and_its_stack_once(project: Project, site: Site) -> None:
    site.page("/", "".join(f'<a href="/p/{i}">{i}</a>' for i in range(3)))
    for i in range(3):
        site.page(f"/p/{i}", "a product")
    project.spider("raising", RAISING.format(url=site.url))
    result = project.run("crawl", "raising")
    assert result.returncode == 0, result.stderr  # pages were fetched: a spider bug costs pages, not the run
    lines = error_lines(result.stderr, "spider")
    assert len(lines) == 3
    for i in range(3):
        assert any(f"{site.url}/p/{i}: parse: ValueError: no price on {i}" in line for line in lines)
    assert result.stderr.count("ValueError raised here (most recent call last):") == 1  # once per type and place
    assert 'spiders/raising.py", line 11, in parse' in result.stderr
    assert "Traceback" not in result.stderr  # that word stays for Harvester itself stopping
    closing = result.stderr[result.stderr.index("errors by kind") :]
    assert "spider" in closing and "e.g." in closing and "ValueError: no price on" in closing


def test_a_flood_of_one_kind_shows_ten_lines_then_counts(project: Project, site: Site) -> None:
    site.page("/", "".join(f'<a href="/missing/{i}">{i}</a>' for i in range(40)))  # 40 links that answer 404
    add_spider(project, site, "pages")
    result = project.run("crawl", "pages")
    assert result.returncode == 0, result.stderr
    assert len(error_lines(result.stderr, "http")) == 10
    assert "more http errors are counted, not shown" in result.stderr
    closing = result.stderr[result.stderr.index("errors by kind") :].splitlines()
    assert any(line.split()[:2] == ["http", "40"] for line in closing), closing
    assert project.sql("select count(*) from errors where kind = 'http'") == [(40,)]


def test_robots_txt_that_cannot_be_fetched_is_named_as_the_cause(project: Project, site: Site) -> None:
    config = project.root / "harvester.toml"
    config.write_text(config.read_text().replace("obey_robots = false", "obey_robots = true"))
    https_on_http = site.url.replace("http://", "https://")
    urls = [f"http://127.0.0.1:{free_port()}/", https_on_http + "/"]
    project.spider("polite", ROBOTS.format(urls=urls))
    result = project.run("crawl", "polite")
    lines = error_lines(result.stderr, "robots")
    assert len(lines) == 2, result.stderr
    for line in lines:
        assert "robots.txt unreachable (" in line and "host treated as disallowed (RFC 9309)" in line
    assert any("refused" in line for line in lines)  # the port not listening
    messages = [m for (m,) in project.sql("select message from errors where kind = 'robots'")]
    assert len(messages) == 2 and all(m.startswith("robots.txt unreachable") for m in messages), messages
    # nothing was fetched: the run says so, and exits 1
    assert result.returncode == 1
    assert "fetched no page: every request failed" in result.stderr


def test_an_unreachable_proxy_is_named_for_robots_txt(project: Project, site: Site) -> None:
    config = project.root / "harvester.toml"
    config.write_text(
        config.read_text().replace("obey_robots = false", "obey_robots = true")
        + f'proxies = {{ http = "http://127.0.0.1:{free_port()}" }}\n'
    )
    project.spider("polite", ROBOTS.format(urls=[site.url + "/"]))
    result = project.run("crawl", "polite")
    assert result.returncode == 1
    (line,) = error_lines(result.stderr, "robots")
    assert "robots.txt unreachable" in line and "(RFC 9309)" in line
    assert site.hits == {}


def test_exit_status_zero_when_some_pages_were_fetched(project: Project, site: Site) -> None:
    site.page("/", '<a href="/gone">gone</a>')
    add_spider(project, site, "pages")
    result = project.run("crawl", "pages")
    assert result.returncode == 0, result.stderr
    assert len(error_lines(result.stderr, "http")) == 1


def test_verbose_logs_each_response_and_quiet_only_errors(project: Project, site: Site) -> None:
    serve_three_pages(site)
    site.page("/b", '<h1>Beta</h1><a href="/gone">gone</a>')
    add_spider(project, site, "pages")
    verbose = project.run("crawl", "pages", "-v")
    assert verbose.returncode == 0, verbose.stderr
    responses = [line for line in verbose.stderr.splitlines() if "harvester.responses:" in line]
    assert len(responses) == 4
    home = next(line for line in responses if f" {site.url}/ " in line)
    assert "200" in home and " s, " in home and "bytes" in home
    assert any("404" in line for line in responses)

    quiet = project.run("crawl", "pages", "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""
    assert [
        line
        for line in quiet.stderr.splitlines()
        if "harvester.errors" not in line and not line.startswith("errors by kind") and not line.startswith("  http")
    ] == []
    assert len(error_lines(quiet.stderr, "http")) == 1

    both = project.run("crawl", "pages", "-v", "-q")
    assert both.returncode == 2 and "-v and -q" in both.stderr


def test_logfile_gets_the_log_and_the_closing_lines(project: Project, site: Site) -> None:
    site.page("/", '<h1>Home</h1><a href="/gone">gone</a>')
    add_spider(project, site, "pages")
    result = project.run("crawl", "pages", "--logfile", "run.log")
    assert result.returncode == 0, result.stderr
    log = (project.root / "run.log").read_text()
    assert "harvester.errors: http error at" in log and "/gone: HTTP 404" in log
    assert "pages: run 1 finished" in log
    assert "harvester.errors" not in result.stderr  # the log went to the file
    assert stat.S_IMODE((project.root / "run.log").stat().st_mode) == 0o600
    project.run("crawl", "pages", "--logfile", "run.log")
    assert "pages: run 2 finished" in (project.root / "run.log").read_text()  # appended


PRICED = """
from harvester import Spider


class Priced(Spider):
    name = "priced"
    start_urls = ["{url}/"]

    def parse(self, response):
        yield from response.follow_all()
        yield {{"page": response.url.rsplit("/", 1)[1] or "home"}}
"""

PRICING = """
class Pricing:
    def process_item(self, item, run):
        item["price"] = PRICES[item["page"]]
        return item


PRICES = {"home": 1, "a": 2}
"""


def test_a_pipeline_exception_names_its_pipeline_file_and_line_and_shows_its_stack(project: Project, site: Site):
    serve_three_pages(site)  # /, /a, /b: no price for /b
    project.spider("priced", PRICED.format(url=site.url))
    project.write("pricing.py", PRICING)
    config = project.root / "harvester.toml"
    config.write_text(config.read_text().replace('pipelines = ["store"]', 'pipelines = ["pricing.Pricing", "store"]'))
    result = project.run("crawl", "priced")
    assert result.returncode == 0, result.stderr
    assert sorted(project.sql("select json_extract(data, '$.price') from items")) == [(1,), (2,)]
    [(url, message)] = project.sql("select url, message from errors where kind = 'pipeline'")
    assert url == f"{site.url}/b"
    assert message.startswith("Pricing.process_item at pricing.py:3: KeyError: 'b' (item "), message
    [line] = error_lines(result.stderr, "pipeline")
    assert "Pricing.process_item at pricing.py:3: KeyError: 'b'" in line
    assert "KeyError raised here (most recent call last):" in result.stderr
    assert 'pricing.py", line 3, in process_item' in result.stderr
    assert "Traceback" not in result.stderr


FEED = """
from harvester import XMLFeedSpider


class Feed(XMLFeedSpider):
    name = "feed"
    itertag = "item"
    start_urls = ["{url}/feed.xml", "{url}/unread.xml"]

    def parse(self, response):
        if response.url.endswith("/unread.xml"):
            return []  # the body is never read
        return super().parse(response)

    def parse_node(self, response, node):
        yield {{"text": node.text}}
"""


def test_verbose_says_how_many_bytes_a_streamed_feed_gave_once_it_is_read(project: Project, site: Site) -> None:
    body = '<?xml version="1.0"?><r>' + "".join(f"<item>{i}</item>" for i in range(100)) + "</r>"
    site.page("/feed.xml", body, content_type="application/xml")
    site.page("/unread.xml", body, content_type="application/xml")
    project.spider("feed", FEED.format(url=site.url))
    result = project.run("crawl", "feed", "-v")
    assert result.returncode == 0, result.stderr
    assert project.sql("select count(*) from items") == [(100,)]
    responses = [line for line in result.stderr.splitlines() if "harvester.responses:" in line]
    assert len(responses) == 2, responses
    feed = next(line for line in responses if f"{site.url}/feed.xml" in line)
    assert f"200 {site.url}/feed.xml (" in feed and feed.endswith(f" s, {len(body)} bytes streamed)"), feed
    unread = next(line for line in responses if f"{site.url}/unread.xml" in line)
    assert unread.endswith(" s, streamed, not read)"), unread
    assert project.sql("select url, size from pages order by url") == [
        (f"{site.url}/feed.xml", len(body)),
        (f"{site.url}/unread.xml", 0),
    ]
