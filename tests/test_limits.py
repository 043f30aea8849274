"""Run limits that hold: `[crawl] max_pages`, `max_items`, `max_errors`, `max_seconds`, and CloseSpider.

Each test drives `harvester crawl` on a loopback site and checks what a user
would: the pages fetched (server side and `pages` rows), the items stored, the
run's status and `stats.close_reason`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, Handler, follow_spider

PAGES = 60


def wide_site(site, pages: int = PAGES, delay: float = 0.0) -> None:
    """`/` links to every page; every page links to every other: many requests are ready at once."""

    def page(handler: Handler) -> None:
        if delay:
            time.sleep(delay)
        handler.send_text(200, "".join(f'<a href="/p/{i}">{i}</a>' for i in range(pages)))

    site.page("/", "".join(f'<a href="/p/{i}">{i}</a>' for i in range(pages)))
    for i in range(pages):
        site.routes[f"/p/{i}"] = page


def close_reason(project) -> str:
    return json.loads(project.sql("select stats from runs")[0][0]).get("close_reason")


@pytest.mark.parametrize("concurrency", [1, 5, 64])
def test_max_pages_is_never_exceeded_at_any_concurrency(project, site, concurrency):
    wide_site(site)
    project.spider("follow", follow_spider("follow"))
    result = project.run(
        "crawl",
        "follow",
        "-a",
        f"base={site.url}",
        "-s",
        "crawl.max_pages=3",
        "-s",
        f"fetch.concurrency={concurrency}",
        "-s",
        f"fetch.per_host={concurrency}",
    )
    assert result.returncode == 0, result.stderr
    assert sum(site.hits.values()) == 3
    assert project.sql("select count(*) from pages") == [(3,)]
    assert project.sql("select status from runs") == [("finished",)]
    assert close_reason(project) == "max_pages"
    assert "run 1 finished (max_pages): 3 pages" in result.stdout


@pytest.mark.parametrize("stop", ["term", "kill"])
def test_max_pages_counts_the_whole_run_across_resumes(project, site, stop):
    wide_site(site, delay=0.05)
    project.spider("follow", follow_spider("follow"))
    args = [
        "crawl",
        "follow",
        "-a",
        f"base={site.url}",
        "-s",
        "crawl.max_pages=12",
        "-s",
        "fetch.concurrency=2",
        "-s",
        "fetch.per_host=2",
    ]
    for _ in range(2):  # stopped twice, then resumed to its end
        before = sum(site.hits.values())
        first = subprocess.Popen(
            [sys.executable, "-m", "harvester", *args, *(["--resume"] if before else [])],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        )
        deadline = time.monotonic() + 30
        while sum(site.hits.values()) < before + 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.send_signal(signal.SIGTERM if stop == "term" else signal.SIGKILL)
        first.communicate(timeout=30)
        assert project.sql("select status from runs") == [("interrupted" if stop == "term" else "running",)]
    result = project.run("crawl", *args[1:], "--resume")
    assert result.returncode == 0, result.stderr
    assert project.sql("select count(*) from pages") == [(12,)]
    # a kill loses the requests in flight (two slots, and finished ones whose commit was gathering)
    assert sum(site.hits.values()) == 12 if stop == "term" else 12 <= sum(site.hits.values()) <= 12 + 2 * 4
    assert project.sql("select count(distinct url) from pages") == [(12,)]
    assert project.sql("select id, status from runs") == [(1, "finished")]
    assert close_reason(project) == "max_pages"


ITEMS_SPIDER = """
from harvester import CloseSpider, Spider


class Items(Spider):
    name = "items"
    base = ""
    stop_at = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/"]

    def parse(self, response):
        if self.stop_at and response.url.endswith(self.stop_at):
            yield {"page": response.url, "n": "last"}
            raise CloseSpider("enough seen")
        for n in range(3):
            yield {"page": response.url, "n": n}
        yield from response.follow_all()

    def closed(self, reason):
        with open("closed.txt", "w") as file:
            file.write(reason)
"""


def test_max_items_stores_exactly_that_many_and_closes_the_run(project, site):
    wide_site(site)
    project.spider("items", ITEMS_SPIDER)
    result = project.run("crawl", "items", "-a", f"base={site.url}", "-s", "crawl.max_items=10", "-o", "out.jsonl")
    assert result.returncode == 0, result.stderr
    assert project.sql("select count(*) from items") == [(10,)]
    assert len((project.root / "out.jsonl").read_text().splitlines()) == 10
    assert sum(site.hits.values()) < PAGES
    assert project.sql("select status from runs") == [("finished",)]
    assert close_reason(project) == "max_items"
    assert (project.root / "closed.txt").read_text() == "max_items"


def test_max_errors_closes_the_run(project, site):
    site.page("/", "".join(f'<a href="/missing/{i}">{i}</a>' for i in range(PAGES)))
    project.spider("follow", follow_spider("follow"))
    result = project.run(
        "crawl", "follow", "-a", f"base={site.url}", "-s", "crawl.max_errors=5", "-s", "fetch.concurrency=1"
    )
    assert result.returncode == 0, result.stderr
    assert project.sql("select count(*) from errors") == [(5,)]
    assert sum(site.hits.values()) == 6  # "/" and five missing pages (one request at a time)
    assert close_reason(project) == "max_errors"
    assert project.sql("select status from runs") == [("finished",)]


def test_max_seconds_closes_a_long_crawl(project, site):
    wide_site(site, delay=0.2)
    project.spider("follow", follow_spider("follow"))
    started = time.monotonic()
    result = project.run(
        "crawl", "follow", "-a", f"base={site.url}", "-s", "crawl.max_seconds=1", "-s", "fetch.concurrency=1"
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert 2 <= sum(site.hits.values()) < 15
    assert close_reason(project) == "max_seconds"
    assert project.sql("select status from runs") == [("finished",)]


def test_close_spider_from_a_callback_closes_the_run_with_its_reason(project, site):
    wide_site(site)
    project.spider("items", ITEMS_SPIDER)
    result = project.run("crawl", "items", "-a", f"base={site.url}", "-a", "stop_at=/p/0", "-s", "fetch.concurrency=1")
    assert result.returncode == 0, result.stderr
    assert "finished" in result.stdout
    assert close_reason(project) == "enough seen"
    assert (project.root / "closed.txt").read_text() == "enough seen"
    assert project.sql("select count(*) from errors") == [(0,)]
    assert project.sql(
        "select json_extract(data, '$.n') from items where json_extract(data, '$.page') like '%/p/0'"
    ) == [("last",)]
    assert sum(site.hits.values()) == 2  # "/" then /p/0, which closed the run (one request at a time)


def test_a_run_that_ends_by_itself_says_finished(project, site):
    wide_site(site, pages=5)
    project.spider("follow", follow_spider("follow"))
    result = project.run("crawl", "follow", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert close_reason(project) == "finished"
