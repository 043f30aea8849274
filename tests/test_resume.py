"""Resume: a run stopped by kill -9, SIGTERM or Ctrl-C continues; nothing fetched twice, nothing stored twice."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, Handler, follow_spider

PAGES = 60

SPIDER = follow_spider("slow")


def slow_site(site):
    def page(handler: Handler) -> None:
        time.sleep(0.05)
        handler.send_text(200, f"<h1>{handler.path}</h1>")

    site.page("/", "".join(f'<a href="/p/{i}">{i}</a>' for i in range(PAGES)))
    for i in range(PAGES):
        site.routes[f"/p/{i}"] = page


def start(project, site, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harvester",
            "crawl",
            "slow",
            "-a",
            f"base={site.url}",
            "-s",
            "fetch.concurrency=2",
            "-s",
            "fetch.per_host=2",
            *extra,
        ],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def wait_for_hits(site, count: int) -> None:
    deadline = time.monotonic() + 30
    while sum(site.hits.values()) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def page_hits(site) -> collections.Counter[str]:
    return collections.Counter({path: n for path, n in site.hits.items() if path.startswith("/p/")})


@pytest.mark.parametrize("stop", ["kill", "term", "int"])
def test_a_stopped_run_resumes_without_refetching_or_storing_twice(project, site, stop):
    slow_site(site)
    project.spider("slow", SPIDER)
    first = start(project, site)
    wait_for_hits(site, PAGES // 2)
    first.send_signal({"kill": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}[stop])
    first.communicate(timeout=30)
    before = sum(page_hits(site).values())
    assert before < PAGES
    assert project.sql("select id, status from runs") == [(1, "running" if stop == "kill" else "interrupted")]

    second = start(project, site, "--resume")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "run 1 finished" in out

    hits = page_hits(site)
    assert len(hits) == PAGES
    repeated = sum(n - 1 for n in hits.values())
    # Only requests in flight at a kill repeat: the two being fetched, and finished ones whose
    # commit had not ended (each slot hands its result to the writer and takes the next request).
    assert repeated <= (4 if stop == "kill" else 0)
    assert site.hits["/"] == 1
    stored = project.sql("select json_extract(data, '$.page'), count(*) from items group by 1")
    assert len(stored) == PAGES and {n for _, n in stored} == {1}
    assert project.sql("select id, status from runs") == [(1, "finished")]
    assert project.sql("select count(distinct url) - count(*) from pages") == [(0,)]


def test_a_second_ctrl_c_forces_the_stop(project, site):
    def stuck(handler: Handler) -> None:
        time.sleep(5)
        handler.send_text(200, "<h1>late</h1>")

    site.page("/", '<a href="/p/0">0</a><a href="/p/1">1</a>')
    site.routes["/p/0"] = site.routes["/p/1"] = stuck
    project.spider("slow", SPIDER)
    process = start(project, site)
    wait_for_hits(site, 3)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - began < 3
    assert process.returncode == 130
    assert project.sql("select status from runs") == [("interrupted",)]
    assert "Traceback" not in err


FEED_SPIDER = """
from harvester import XMLFeedSpider

class Feed(XMLFeedSpider):
    name = "feed"
    itertag = "record"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/feed.xml"]

    def parse_node(self, response, node):
        yield {"n": int(node.xpath("@n").get())}
"""

RECORDS = 12_000


def test_a_long_feed_killed_midway_resumes_with_every_record_once(project, site):
    def feed(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        parts = (
            [b"<feed>"]
            + [b"".join(b'<record n="%d"/>' % n for n in range(start, start + 500)) for start in range(0, RECORDS, 500)]
            + [b"</feed>"]
        )
        try:
            for part in parts:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                time.sleep(0.15)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    site.routes["/feed.xml"] = feed
    project.spider("feed", FEED_SPIDER)
    command = [sys.executable, "-m", "harvester", "crawl", "feed", "-a", f"base={site.url}"]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    first = subprocess.Popen(command, cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stored() -> int:
        try:
            return project.sql("select count(*) from items")[0][0]
        except Exception:  # noqa: BLE001 - the database is still being created
            return 0

    deadline = time.monotonic() + 30
    while stored() < 2 * 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.kill()
    first.communicate(timeout=30)
    partial = stored()
    assert 0 < partial < RECORDS  # written as they came, before the feed was done

    second = subprocess.run(
        [*command, "--resume"], cwd=project.root, env=env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0, second.stderr
    rows = project.sql("select json_extract(data, '$.n'), count(*) from items group by 1")
    assert len(rows) == RECORDS and {count for _, count in rows} == {1}
    assert site.hits["/feed.xml"] == 2
