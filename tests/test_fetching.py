"""The fetcher against real loopback servers: retries, size caps, decoding, redirects, robots."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import subprocess
import sys
import time
import zlib

import brotli
from conftest import Handler, Site

from harvester import Request, Spider
from harvester.config import build
from harvester.crawler import crawl


class Collect(Spider):
    """Stores one item per page it gets: its URL and the <h1> text."""

    name = "collect"

    def parse(self, response):
        yield {"url": response.url, "h1": response.css("h1::text").get()}


def run(tmp_path, urls, **fetch):
    Collect.start_urls = list(urls)
    options = {"retries": 2, "backoff": 0.05, "timeout": 5, "obey_robots": False, **fetch}
    return asyncio.run(crawl(build({"fetch": options}, root=tmp_path), Collect))


def test_a_flaky_endpoint_is_retried_to_success(tmp_path, site, sql):
    calls = []

    def flaky(handler: Handler) -> None:
        calls.append(1)
        if len(calls) == 1:
            handler.send_text(500, "oops")
        else:
            handler.send_text(200, "<h1>fine</h1>")

    site.routes["/flaky"] = flaky
    result = run(tmp_path, [site.url + "/flaky"])
    assert site.hits["/flaky"] == 2
    assert sql(tmp_path, "select json_extract(data, '$.h1') from items") == [("fine",)]
    assert sql(tmp_path, "select count(*) from errors") == [(0,)]
    assert result.stats.pages == 1


def test_an_always_unavailable_endpoint_ends_as_one_error_row(tmp_path, site, sql):
    site.page("/down", "busy", status=503)
    run(tmp_path, [site.url + "/down"], retries=3)
    assert site.hits["/down"] == 4
    assert sql(tmp_path, "select kind, url, message from errors") == [("http", site.url + "/down", "HTTP 503")]
    assert sql(tmp_path, "select status from pages") == [(503,)]
    assert sql(tmp_path, "select count(*) from items") == [(0,)]


def test_not_found_is_recorded_and_never_retried(tmp_path, site, sql):
    run(tmp_path, [site.url + "/missing"])
    assert site.hits["/missing"] == 1
    assert sql(tmp_path, "select kind, message from errors") == [("http", "HTTP 404")]


def test_retry_after_is_honoured(tmp_path, site, sql):
    calls = []

    def limited(handler: Handler) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            handler.send_text(429, "slow down", headers={"Retry-After": "1"})
        else:
            handler.send_text(200, "<h1>ok</h1>")

    site.routes["/limited"] = limited
    run(tmp_path, [site.url + "/limited"])
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.9
    assert sql(tmp_path, "select count(*) from items") == [(1,)]


def test_a_closed_port_is_a_network_error_and_the_crawl_goes_on(tmp_path, site, sql):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    site.page("/ok", "<h1>ok</h1>")
    result = run(tmp_path, [f"http://127.0.0.1:{closed}/", site.url + "/ok"], retries=1)
    assert result.status == "finished"
    assert sql(tmp_path, "select kind from errors") == [("network",)]
    assert sql(tmp_path, "select json_extract(data, '$.h1') from items") == [("ok",)]


def test_a_slow_response_times_out(tmp_path, site, sql):
    def slow(handler: Handler) -> None:
        time.sleep(1.5)
        handler.send_text(200, "<h1>late</h1>")

    site.routes["/slow"] = slow
    run(tmp_path, [site.url + "/slow"], timeout=0.3, retries=0)
    assert sql(tmp_path, "select kind from errors") == [("timeout",)]


def _stream(total: int, sent: list[int], chunked: bool):
    def route(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(total))
        handler.end_headers()
        block = b"x" * 65536
        try:
            while sent[0] < total:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                sent[0] += len(block)
            if chunked:
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    return route


def test_a_body_over_max_size_is_refused_without_reading_it_whole(tmp_path, site, sql):
    total = 256 * 1024 * 1024
    sent_chunked, sent_sized = [0], [0]
    site.routes["/chunked"] = _stream(total, sent_chunked, chunked=True)
    site.routes["/sized"] = _stream(total, sent_sized, chunked=False)
    site.page("/small", "<h1>small</h1>")
    run(tmp_path, [site.url + "/chunked", site.url + "/sized", site.url + "/small"], max_size="1MB")
    kinds = sql(tmp_path, "select url, kind from errors order by url")
    assert kinds == [(site.url + "/chunked", "too_large"), (site.url + "/sized", "too_large")]
    assert sent_chunked[0] < total // 4
    assert sent_sized[0] < total // 4
    assert sql(tmp_path, "select json_extract(data, '$.h1') from items") == [("small",)]


def test_gzip_deflate_and_br_bodies_are_decoded(tmp_path, site, sql):
    site.page("/gz", gzip.compress(b"<h1>zipped</h1>"), headers={"Content-Encoding": "gzip"})
    site.page("/df", zlib.compress(b"<h1>deflated</h1>"), headers={"Content-Encoding": "deflate"})
    site.page("/br", brotli.compress(b"<h1>brotli</h1>"), headers={"Content-Encoding": "br"})
    run(tmp_path, [site.url + "/gz", site.url + "/df", site.url + "/br"])
    rows = sorted(sql(tmp_path, "select json_extract(data, '$.h1') from items"))
    assert rows == [("brotli",), ("deflated",), ("zipped",)]


BOMB_SPIDER = """
from harvester import Request, Spider

class Bomb(Spider):
    name = "bomb"
    base = ""

    def start_requests(self):
        from harvester import Request
        yield Request(self.base + "/bomb")
        yield Request(self.base + "/ok")

    def parse(self, response):
        yield {"h1": response.css("h1::text").get()}
"""

MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def test_a_gzip_bomb_past_2_gb_is_refused_in_bounded_memory(project, site):
    member = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    bomb = member * 33  # concatenated gzip members: 2.1 GB inflated from about 2 MB
    site.page("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    site.page("/ok", "<h1>ok</h1>")
    project.spider("bomb", BOMB_SPIDER)
    measured = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURE,
            sys.executable,
            "-m",
            "harvester",
            "crawl",
            "bomb",
            "-a",
            f"base={site.url}",
            "-s",
            'fetch.max_size="64MB"',
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    peak_mb = int(measured.stdout.split()[-1]) / 1024
    assert project.sql("select kind from errors") == [("too_large",)]
    assert project.sql("select json_extract(data, '$.h1') from items") == [("ok",)]
    print(f"peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"


def test_redirects_are_followed_and_the_final_url_recorded(tmp_path, site, sql):
    for code, (here, there) in zip(
        (301, 302, 303, 307, 308), [("/r1", "/r2"), ("/r2", "/r3"), ("/r3", "/r4"), ("/r4", "/r5"), ("/r5", "/end")]
    ):
        site.page(here, "", status=code, headers={"Location": there})
    site.page("/end", "<h1>landed</h1>")
    run(tmp_path, [site.url + "/r1"])
    [(url, final, status, redirects)] = sql(tmp_path, "select url, final_url, status, redirects from pages")
    assert (url, final, status) == (site.url + "/r1", site.url + "/end", 200)
    assert json.loads(redirects) == [site.url + f"/r{i}" for i in range(1, 6)]
    assert sql(tmp_path, "select url, json_extract(data, '$.h1') from items") == [(site.url + "/end", "landed")]


def test_redirect_loops_long_chains_and_other_schemes_are_errors(tmp_path, site, sql):
    site.page("/loop-a", "", status=302, headers={"Location": "/loop-b"})
    site.page("/loop-b", "", status=302, headers={"Location": "/loop-a"})
    for i in range(11):
        site.page(f"/hop{i}", "", status=302, headers={"Location": f"/hop{i + 1}"})
    site.page("/hop11", "<h1>too far</h1>")
    site.page("/to-file", "", status=302, headers={"Location": "file:///etc/passwd"})
    site.page("/to-ftp", "", status=301, headers={"Location": "ftp://127.0.0.1/"})
    run(tmp_path, [site.url + "/loop-a", site.url + "/hop0", site.url + "/to-file", site.url + "/to-ftp"])
    errors = dict(sql(tmp_path, "select url, message from errors"))
    assert "loop" in errors[site.url + "/loop-a"]
    assert "more than 10 redirects" in errors[site.url + "/hop0"]
    assert "non-http" in errors[site.url + "/to-file"]
    assert "non-http" in errors[site.url + "/to-ftp"]
    assert site.hits["/hop11"] == 0
    assert sql(tmp_path, "select distinct kind from errors") == [("redirect",)]


def test_robots_txt_disallowed_paths_are_never_requested(tmp_path, site, sql):
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.page("/", '<a href="/private/secret.html">s</a><a href="/public.html">p</a>')
    site.page("/private/secret.html", "<h1>secret</h1>")
    site.page("/public.html", "<h1>public</h1>")

    class Follow(Collect):
        name = "follow"
        start_urls = [site.url + "/"]

        def parse(self, response):
            yield from super().parse(response)
            yield from response.follow_all()

    asyncio.run(crawl(build({"fetch": {"obey_robots": True}}, root=tmp_path), Follow))
    assert site.hits["/private/secret.html"] == 0
    assert site.hits["/public.html"] == 1
    assert site.hits["/robots.txt"] == 1
    assert sql(tmp_path, "select kind, url from errors") == [("robots", site.url + "/private/secret.html")]


def test_robots_txt_404_allows_and_500_disallows(tmp_path, site, other_site, sql):
    site.page("/page", "<h1>allowed</h1>")
    other_site.page("/robots.txt", "broken", status=500)
    other_site.page("/page", "<h1>refused</h1>")
    run(tmp_path, [site.url + "/page", other_site.url + "/page"], obey_robots=True, retries=0)
    assert site.hits["/page"] == 1
    assert other_site.hits["/page"] == 0
    assert sql(tmp_path, "select json_extract(data, '$.h1') from items") == [("allowed",)]


def test_robots_crawl_delay_spaces_requests_to_that_host(tmp_path, site, sql):
    site.page("/robots.txt", "User-agent: *\nCrawl-delay: 0.3\n", content_type="text/plain")
    starts: list[float] = []

    def timed(handler: Handler) -> None:
        starts.append(time.monotonic())
        handler.send_text(200, "<h1>t</h1>")

    for i in range(4):
        site.routes[f"/t{i}"] = timed
    run(tmp_path, [f"{site.url}/t{i}" for i in range(4)], obey_robots=True)
    gaps = [b - a for a, b in zip(sorted(starts), sorted(starts)[1:])]
    assert len(starts) == 4
    assert min(gaps) >= 0.25


def test_per_host_delay_spaces_requests(tmp_path, site: Site):
    starts: list[float] = []

    def timed(handler: Handler) -> None:
        starts.append(time.monotonic())
        handler.send_text(200, "<h1>t</h1>")

    for i in range(3):
        site.routes[f"/d{i}"] = timed
    run(tmp_path, [f"{site.url}/d{i}" for i in range(3)], delay=0.3)
    gaps = [b - a for a, b in zip(sorted(starts), sorted(starts)[1:])]
    assert min(gaps) >= 0.25


class StreamedFeed(Spider):
    """Asks for `url` with a streamed body; subclasses read it in `parse`."""

    name = "feed"
    url = ""

    def start_requests(self):
        yield Request(self.url, stream=True)


def test_a_streamed_body_is_read_as_it_arrives_and_may_exceed_max_size(tmp_path, site, sql):
    site.routes["/feed"] = _stream(8 * 1024 * 1024, [0], chunked=True)

    class Feed(StreamedFeed):
        url = site.url + "/feed"

        async def parse(self, response):
            largest, total = 0, 0
            async for chunk in response.aiter_bytes():
                largest, total = max(largest, len(chunk)), total + len(chunk)
            yield {"total": total, "largest": largest, "buffered": len(response.body)}

    asyncio.run(crawl(build({"fetch": {"max_size": "1MB", "obey_robots": False}}, root=tmp_path), Feed))
    ((total, largest, buffered),) = sql(
        tmp_path,
        "select json_extract(data, '$.total'), "
        "json_extract(data, '$.largest'), json_extract(data, '$.buffered') "
        "from items",
    )
    assert total == 8 * 1024 * 1024 and buffered == 0 and largest < 1024 * 1024
    assert sql(tmp_path, "select size from pages") == [(8 * 1024 * 1024,)]


def test_feed_max_size_bounds_a_streamed_body(tmp_path, site, sql):
    sent = [0]
    site.routes["/feed"] = _stream(64 * 1024 * 1024, sent, chunked=True)

    class Feed(StreamedFeed):
        url = site.url + "/feed"

        async def parse(self, response):
            async for _ in response.aiter_bytes():
                pass
            yield {"read": "all"}

    asyncio.run(crawl(build({"fetch": {"feed_max_size": "2MB", "obey_robots": False}}, root=tmp_path), Feed))
    assert sql(tmp_path, "select kind from errors") == [("too_large",)]
    assert sql(tmp_path, "select count(*) from items") == [(0,)]
    assert sent[0] < 32 * 1024 * 1024


def test_adaptive_delay_gives_a_slow_host_room(tmp_path, site: Site):
    starts: list[float] = []

    def slow(handler: Handler) -> None:
        starts.append(time.monotonic())
        time.sleep(0.2)
        handler.send_text(200, "<h1>t</h1>")

    for i in range(5):
        site.routes[f"/a{i}"] = slow
    run(tmp_path, [f"{site.url}/a{i}" for i in range(5)], adaptive_delay=True, per_host=2)
    gaps = [b - a for a, b in zip(sorted(starts), sorted(starts)[1:])]
    assert min(gaps[2:]) >= 0.08  # after the first responses: about latency / slots apart


def test_robots_txt_follows_up_to_five_redirects(tmp_path, site, other_site, sql):
    for i in range(3):  # three hops to the rules: they apply
        site.page("/robots.txt" if i == 0 else f"/r{i}", "", status=301, headers={"Location": f"/r{i + 1}"})
    site.page("/r3", "User-agent: *\nDisallow: /private\n", content_type="text/plain")
    site.page("/private", "<h1>private</h1>")
    for i in range(7):  # seven hops: unavailable, so everything is allowed
        other_site.page("/robots.txt" if i == 0 else f"/r{i}", "", status=301, headers={"Location": f"/r{i + 1}"})
    other_site.page("/r7", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    other_site.page("/open", "<h1>open</h1>")
    run(tmp_path, [site.url + "/private", other_site.url + "/open"], obey_robots=True)
    assert site.hits["/private"] == 0
    assert other_site.hits["/open"] == 1
    assert other_site.hits["/r6"] == 0  # gave up after five redirects
