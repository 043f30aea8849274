"""Compression bombs and big bodies against the memory of the whole crawl, measured in a child process.

Each test runs `harvester crawl` as a user does, in its own process, and reads
that process's peak RSS (its VmHWM, read by itself at exit). The bounds below are the guarantees:
decoding never holds more than a step of any coding at a time (streamed or
buffered, with no size limit at all), robots.txt is read to its 500 KiB only,
and `fetch.memory_budget` bounds the buffered bodies of all requests together.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zlib

import pytest
from conftest import REPO, Project, Site

MB = 1024 * 1024
BASELINE_MB = 100  # a crawl of one small page measured 75 MiB: the interpreter, lxml, httpx, SQLAlchemy


# The child reads its own high-water mark at exit. Its ru_maxrss would not do: a child started by
# vfork (as subprocess does) counts the test process's own resident set from before its exec.
_MEASURED = """
import atexit, runpy, sys
def _report(path=sys.argv.pop(1)):
    with open("/proc/self/status") as status, open(path, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
atexit.register(_report)
sys.argv[0] = "harvester"
runpy.run_module("harvester", run_name="__main__", alter_sys=True)
"""


def peak_rss_mb(project: Project, *args: str, timeout: float = 240) -> tuple[float, subprocess.CompletedProcess]:
    """`harvester ARGS` in a child process: (that process's peak RSS in MiB, its outcome)."""
    peak_path = project.root / "peak-kib.txt"
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(peak_path), *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return int(peak_path.read_text()) / 1024, result


def zeros_gzip(total: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(c.compress(bytes(MB)) for _ in range(total // MB)) + c.flush()


def zeros_br(total: int, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    import brotli

    c = brotli.Compressor(quality=1)
    parts = [c.process(prefix)] + [c.process(bytes(MB)) for _ in range(total // MB)]
    return b"".join(parts) + c.process(suffix) + c.finish()


def serve_coded(site: Site, path: str, body: bytes, coding: str, content_type: str = "text/html") -> None:
    site.routes[path] = lambda h: h.send_text(200, body, content_type, {"Content-Encoding": coding})


STREAM_SPIDER = """
from harvester import Request, Spider

class Streamed(Spider):
    name = "streamed"
    base = ""

    def start_requests(self):
        yield Request(self.base + "/bomb", callback=self.count, stream=True)

    async def count(self, response):
        total = largest = 0
        async for piece in response.aiter_bytes():
            total += len(piece)
            largest = max(largest, len(piece))
        yield {"total": total, "largest": largest}
"""


def test_a_streamed_br_bomb_with_no_size_limit_is_read_in_small_pieces(project: Project, site: Site):
    inflated = 1024 * MB
    serve_coded(site, "/bomb", zeros_br(inflated), "br", "application/octet-stream")  # about 190 KB
    project.spider("streamed", STREAM_SPIDER)
    peak, result = peak_rss_mb(project, "crawl", "streamed", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    [(total, largest)] = project.sql("select json_extract(data, '$.total'), json_extract(data, '$.largest') from items")
    assert total == inflated  # all of it went through (feed_max_size = 0: no bound)...
    assert largest <= 256 * 1024  # ...a step at a time
    assert peak < BASELINE_MB, f"peak RSS {peak:.0f} MiB"


ROBOTS_SPIDER = """
from harvester import Spider

class Polite(Spider):
    name = "polite"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/", self.base + "/private/x"]

    def parse(self, response):
        yield {"url": response.url}
"""


def test_a_gzip_bomb_as_robots_txt_is_read_to_its_500_kib_only(project: Project, site: Site):
    rules = b"User-agent: *\nDisallow: /private/\n"
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = c.compress(rules) + b"".join(c.compress(b"#" * MB) for _ in range(512)) + c.flush()  # 512 MiB
    serve_coded(site, "/robots.txt", bomb, "gzip", "text/plain")
    site.page("/", "<html><body>home</body></html>")
    site.page("/private/x", "<html><body>private</body></html>")
    project.write(
        "harvester.toml",
        project.root.joinpath("harvester.toml").read_text().replace("obey_robots = false", "obey_robots = true"),
    )
    project.spider("polite", ROBOTS_SPIDER)
    peak, result = peak_rss_mb(project, "crawl", "polite", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert project.sql("select json_extract(data, '$.url') from items") == [(site.url + "/",)]
    assert project.sql("select kind from errors") == [("robots",)]  # its rules were read and obeyed
    assert peak < BASELINE_MB, f"peak RSS {peak:.0f} MiB"


BOMBS_SPIDER = """
from harvester import Spider

class Bombs(Spider):
    name = "bombs"
    base = ""
    count = "8"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [f"{self.base}/bomb/{n}" for n in range(int(self.count))] + [self.base + "/big"]

    def parse(self, response):
        yield {"url": response.url, "size": len(response.body)}
"""


@pytest.fixture(scope="module")
def bomb_bodies() -> dict[str, bytes]:
    return {"gzip": zeros_gzip(512 * MB), "br": zeros_br(512 * MB)}


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_eight_bombs_in_flight_stay_within_the_memory_budget(
    project: Project, site: Site, coding: str, bomb_bodies: dict[str, bytes]
):
    for n in range(8):
        serve_coded(site, f"/bomb/{n}", bomb_bodies[coding], coding)
    big = os.urandom(MB) * 40  # a real 40 MiB page: over a body's share, within the budget
    site.routes["/big"] = lambda h: h.send_text(200, gzip.compress(big, 1), "text/html", {"Content-Encoding": "gzip"})
    project.spider("bombs", BOMBS_SPIDER)
    budget = 256
    peak, result = peak_rss_mb(
        project,
        "crawl",
        "bombs",
        "-a",
        f"base={site.url}",
        "-s",
        "fetch.concurrency=9",
        "-s",
        f"fetch.memory_budget={budget}MB",
        "-s",
        "fetch.timeout=60",
    )
    assert result.returncode == 0, result.stderr
    assert project.sql("select json_extract(data, '$.size') from items") == [(len(big),)]
    kinds = project.sql("select kind, count(*) from errors group by kind")
    assert kinds == [("too_large", 8)]
    assert peak < budget + BASELINE_MB, f"peak RSS {peak:.0f} MiB"


def test_a_body_alone_over_the_budget_is_refused_and_recorded(project: Project, site: Site):
    big = os.urandom(MB) * 3
    site.routes["/big"] = lambda h: h.send_text(200, big, "text/html")
    project.spider("bombs", BOMBS_SPIDER)
    result = project.run("crawl", "bombs", "-a", f"base={site.url}", "-a", "count=0", "-s", "fetch.memory_budget=4MB")
    assert result.returncode == 1, result.stderr  # its one request failed: no page fetched, exit status 1
    assert project.sql("select count(*) from items") == [(0,)]
    [(kind, message)] = project.sql("select kind, message from errors")
    assert kind == "too_large" and "memory_budget" in message
