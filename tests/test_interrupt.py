"""Stopping a crawl: the first Ctrl-C or SIGTERM finishes what is in flight and marks the run interrupted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, Handler

SPIDER = """
from harvester import Spider

class Slow(Spider):
    name = "slow"
    base = ""

    def start_requests(self):
        for i in range(200):
            yield self.make(i)

    def make(self, i):
        from harvester import Request
        return Request(f"{self.base}/slow/{i}", callback=self.parse)

    def parse(self, response):
        yield {"url": response.url}
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_crawl_gracefully(project, site, sig):
    def slow(handler: Handler) -> None:
        time.sleep(0.1)
        handler.send_text(200, "<h1>slow</h1>")

    for i in range(200):
        site.routes[f"/slow/{i}"] = slow
    project.spider("slow", SPIDER)
    process = subprocess.Popen(
        [sys.executable, "-m", "harvester", "crawl", "slow", "-a", f"base={site.url}", "-s", "fetch.concurrency=2"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 30
    while sum(site.hits.values()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    assert "interrupted" in out
    assert "Traceback" not in err
    hits = sum(site.hits.values())
    assert hits < 200
    assert project.sql("select status from runs") == [("interrupted",)]
    assert project.sql("select count(*) from pages") == [(hits,)]  # everything fetched was recorded
    assert project.sql("select count(*) from items") == [(hits,)]
