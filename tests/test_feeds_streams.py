"""Streamed feeds end: a per-read idle timeout, the `feed_timeout` deadline, and the first
SIGTERM or Ctrl-C, which stops a feed after its current record. Driven through the real CLI."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import REPO, Project, Site
from feed_measure import streamed

SPIDER = """
from harvester import JSONFeedSpider

class Feed(JSONFeedSpider):
    name = "stream"
    item_path = "data.item"
    url = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.url]

    def parse_record(self, response, record):
        return record
"""

HEAD = b'{"data": [{"n": 0}, {"n": 1}, '


def trickle():
    """Two records, then one byte every two seconds (white space: valid JSON, for ever)."""
    yield HEAD
    while True:
        yield b" "


def endless():
    """A valid JSON feed of records numbered from 0 that never ends."""
    yield b'{"data": ['
    numbers = itertools.count()
    while True:
        yield b"".join(b'{"n": %d, "pad": "%s"}, ' % (next(numbers), b"p" * 40) for _ in range(1000))


@pytest.fixture
def crawls() -> Iterator[list[subprocess.Popen[str]]]:
    """The crawls a test starts; any still running when it ends (a failed test) is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for crawl in started:
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()


def start(crawls, project: Project, site: Site, *settings: str) -> subprocess.Popen[str]:
    project.spider("stream", SPIDER)
    args = [arg for setting in settings for arg in ("-s", setting)]
    crawl = subprocess.Popen(
        [sys.executable, "-m", "harvester", "crawl", "stream", "-a", f"url={site.url}/feed.json", *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    crawls.append(crawl)
    return crawl


def numbers(project: Project) -> list[int]:
    return [row[0] for row in project.sql("select json_extract(data, '$.n') from items order by id")]


def test_a_trickling_feed_ends_at_feed_timeout_and_keeps_the_records_before(crawls, project, site):
    site.routes["/feed.json"] = streamed(trickle, "application/json", pause=2.0, seconds=40)
    began = time.monotonic()
    crawl = start(crawls, project, site, "fetch.timeout=5", "fetch.feed_timeout=7")
    out, err = crawl.communicate(timeout=60)
    took = time.monotonic() - began
    assert crawl.returncode == 0, err
    assert 7 <= took < 20, f"ended after {took:.1f} s"
    assert numbers(project) == [0, 1]
    [(kind, message)] = project.sql("select kind, message from errors")
    assert kind == "timeout" and "feed_timeout 7 s" in message
    assert project.sql("select status from runs") == [("finished",)]


def test_a_feed_that_goes_quiet_ends_by_the_idle_timeout(crawls, project, site):
    def quiet():
        yield HEAD
        time.sleep(30)

    site.routes["/feed.json"] = streamed(quiet, "application/json", seconds=40)
    began = time.monotonic()
    crawl = start(crawls, project, site, "fetch.timeout=2")
    _, err = crawl.communicate(timeout=60)
    assert crawl.returncode == 0, err
    assert time.monotonic() - began < 15
    assert numbers(project) == [0, 1]
    assert [kind for kind, _ in project.sql("select kind, message from errors")] == ["timeout"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_first_signal_stops_an_endless_feed_after_its_current_record(crawls, project, site, sig):
    site.routes["/feed.json"] = streamed(endless, "application/json", seconds=60)
    crawl = start(crawls, project, site)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (project.root / "harvest.db").exists():
        time.sleep(0.1)
    time.sleep(2)  # records are flowing
    crawl.send_signal(sig)
    stopped = time.monotonic()
    out, err = crawl.communicate(timeout=30)
    assert time.monotonic() - stopped < 10
    assert crawl.returncode == 130, err
    assert "Traceback" not in err
    assert project.sql("select status from runs") == [("interrupted",)]
    got = numbers(project)
    assert len(got) > 100 and got == list(range(len(got)))  # every record up to the stop, once, in order
    [(kind, message)] = project.sql("select kind, message from errors")
    assert kind == "interrupted" and f"after record {len(got)}" in message
    assert json.loads(project.sql("select stats from runs")[0][0])["items"] == len(got)


def test_the_first_signal_stops_a_trickling_feed_between_reads(crawls, project, site):
    site.routes["/feed.json"] = streamed(trickle, "application/json", pause=2.0, seconds=40)
    crawl = start(crawls, project, site, "fetch.timeout=5")  # no feed_timeout: only the signal ends it
    time.sleep(4)
    crawl.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    _, err = crawl.communicate(timeout=30)
    assert time.monotonic() - stopped < 5
    assert crawl.returncode == 130, err
    assert numbers(project) == [0, 1]
    assert [kind for kind, _ in project.sql("select kind, message from errors")] == ["interrupted"]
    assert project.sql("select status from runs") == [("interrupted",)]
