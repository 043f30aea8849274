"""Fetch middlewares a project adds without touching Harvester: its own, and the rotating proxy.

Each test is a scratch project with one module of its own, crawled by the real CLI in a
subprocess; proxies are real `proxy.py` servers on loopback ports.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import follow_spider

from harvester import Request
from harvester.serialize import request_from_json, request_to_json

ADD_HEADER = """
class AddHeader:
    \"\"\"Every request carries X-Team, and X-Steps names the middlewares it went through.\"\"\"

    def __init__(self, settings):
        self.team = "books"

    async def __call__(self, request, call_next):
        headers = {**(request.headers or {}), "X-Team": self.team, "X-Steps": "project"}
        return await call_next(request.replace(headers=headers))


async def stamp(request, call_next):
    headers = dict(request.headers or {})
    headers["X-Steps"] = headers.get("X-Steps", "") + ",spider"
    return await call_next(request.replace(headers=headers))
"""


def pages(site, count: int) -> None:
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    links = "".join(f'<a href="/p/{n}">{n}</a>' for n in range(count))
    site.page("/", f"<html><body>{links}<a href='/old'>old</a></body></html>")
    for n in range(count):
        site.page(f"/p/{n}", f"<html><body><h1>{n}</h1></body></html>")
    site.routes["/old"] = lambda h: h.send_text(301, "", headers={"Location": "/p/0"})


def test_a_project_middleware_and_a_spiders_own_see_every_request(project, site):
    pages(site, 5)
    project.write("addheader.py", ADD_HEADER)
    project.write(
        "harvester.toml",
        project.root.joinpath("harvester.toml")
        .read_text()
        .replace("obey_robots = false", "obey_robots = true")
        .replace("[project]", '[project]\nmiddlewares = ["addheader.AddHeader"]'),
    )
    source = follow_spider("follow").replace(
        '    name = "follow"', '    name = "follow"\n    middlewares = ["addheader.stamp"]'
    )
    project.spider("follow", source)

    done = project.run("crawl", "follow", "-a", f"base={site.url}")

    assert done.returncode == 0, done.stderr
    assert project.sql("select count(*) from items") == [(6,)]  # /old is /p/0 once more
    seen = {(path, headers.get("X-Team"), headers.get("X-Steps")) for _, path, headers in site.requests}
    assert {path for path, _, _ in seen} >= {"/robots.txt", "/", "/old", "/p/0", "/p/4"}
    assert {(team, steps) for _, team, steps in seen} == {("books", "project,spider")}


def test_a_middleware_path_that_does_not_import_is_one_line_and_exit_2(project, site):
    pages(site, 1)
    project.write(
        "harvester.toml",
        project.root.joinpath("harvester.toml")
        .read_text()
        .replace("[project]", '[project]\nmiddlewares = ["nosuchmodule.AddHeader"]'),
    )
    project.spider("follow", follow_spider("follow"))

    done = project.run("crawl", "follow", "-a", f"base={site.url}")

    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "nosuchmodule" in done.stderr and "Traceback" not in done.stderr
    assert site.requests == []


# -- proxies -------------------------------------------------------------------------------------


@dataclass
class Proxy:
    """A proxy.py server on a loopback port; each request it forwards carries `X-Via: NAME`."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def tunnelled(self, site) -> bool:
        """Whether a CONNECT to `site` went through this proxy (its access log, written as it closes)."""
        deadline = time.monotonic() + 10
        while f"CONNECT {site.host}:{site.port}" not in self.log.read_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def fetched(self, site) -> list[str]:
        """The paths `site` was asked for through this proxy."""
        return [path for _, path, headers in site.requests if headers.get("X-Via") == self.name]


def start_proxy(tmp_path: Path, name: str, *options: str) -> Proxy:
    port_file, log = tmp_path / f"{name}.port", tmp_path / f"{name}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--num-workers",
            "1",
            "--plugins",
            "proxy_tag.Tag",
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent), "PROXY_TAG": name},
    )
    deadline = time.monotonic() + 20
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"proxy.py did not start: {log.read_text()[-500:]}")
        time.sleep(0.05)
    return Proxy(name, int(port_file.read_text()), process, log)


@pytest.fixture
def proxies(tmp_path) -> Iterator[list[Proxy]]:
    """Two proxy.py servers on loopback: the first asks for the login `bot:s3cret`."""
    started = [start_proxy(tmp_path, "a", "--basic-auth", "bot:s3cret"), start_proxy(tmp_path, "b")]
    yield started
    for proxy in started:
        proxy.process.terminate()
        try:
            proxy.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.process.kill()


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: every connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_rotating_proxy_spreads_requests_and_rests_one_that_refuses(project, site, proxies, refusing_port):
    pages(site, 12)
    first, second = proxies
    dead = f"http://127.0.0.1:{refusing_port}"
    project.write(
        "harvester.toml",
        project.root.joinpath("harvester.toml")
        .read_text()
        .replace("[project]", '[project]\nmiddlewares = ["harvester.middlewares.RotatingProxy"]')
        .replace("concurrency = 8", "concurrency = 1")
        + f'proxy_list = ["http://bot:s3cret@127.0.0.1:{first.port}", "http://127.0.0.1:{second.port}",'
        f' "{dead}"]\nproxy_rest = 600\n',
    )
    project.spider("follow", follow_spider("follow"))

    done = project.run("crawl", "follow", "-a", f"base={site.url}")

    assert done.returncode == 0, done.stderr
    assert project.sql("select count(*) from items") == [(13,)]
    assert project.sql("select count(*) from errors") == [(0,)]
    through_first, through_second = first.fetched(site), second.fetched(site)
    assert len(through_first) >= 5 and len(through_second) >= 5
    assert sorted(through_first + through_second) == sorted(path for _, path, _ in site.requests)
    assert len(re.findall(rf"proxy {re.escape(dead)} failed.*rested", done.stderr)) == 1
    # the first proxy asks for a login: it was given (no 407), and never stored or printed
    assert b"s3cret" not in (project.root / "harvest.db").read_bytes()
    assert "s3cret" not in done.stdout + done.stderr


def test_a_requests_own_proxy_is_kept_through_the_frontier_without_its_login():
    request = Request("http://books.example/", proxy="http://bot:s3cret@127.0.0.1:3128")

    stored = request_to_json(request)

    assert stored["proxy"] == "http://127.0.0.1:3128"
    assert request_from_json(stored).proxy == "http://127.0.0.1:3128"


@pytest.mark.parametrize(
    "line, named",
    [
        ('proxies = { all = "http://127.0.0.1:3128" }', "'all' is not a scheme proxied"),  # an httpx mount key
        ('proxies = { http = "bot:s3cret@127.0.0.1" }', "proxies.http"),
        ('proxy_list = ["bot:s3cret@127.0.0.1"]', "proxy_list"),
    ],
)
def test_a_proxy_setting_that_would_be_ignored_or_misread_is_one_line_and_exit_2(project, site, line, named):
    project.write("harvester.toml", project.root.joinpath("harvester.toml").read_text() + line + "\n")
    project.spider("follow", follow_spider("follow"))

    done = project.run("crawl", "follow", "-a", f"base={site.url}")

    assert done.returncode == 2
    assert named in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
    assert "s3cret" not in done.stderr
    assert not site.requests  # nothing went out directly


def test_a_proxy_login_reaches_the_proxy_alone(project, tls_site, ca, proxies):
    tls_site.page("/", "<html><body><h1>private</h1></body></html>")
    first, _ = proxies
    project.write(
        "harvester.toml",
        project.root.joinpath("harvester.toml")
        .read_text()
        .replace("[project]", '[project]\nmiddlewares = ["harvester.middlewares.RotatingProxy"]')
        + f'ca_file = "{ca.path}"\nproxy_list = ["http://bot:s3cret@127.0.0.1:{first.port}"]\n',
    )
    project.spider("follow", follow_spider("follow"))

    done = project.run("crawl", "follow", "-a", f"base={tls_site.url}")

    assert done.returncode == 0, done.stderr
    assert project.sql("select status from pages") == [(200,)]  # through the tunnel the proxy let open
    assert first.tunnelled(tls_site)
    ((_, _, headers),) = tls_site.requests
    assert not {"Proxy-Authorization", "Authorization"} & set(headers)
    assert "s3cret" not in done.stdout + done.stderr


def test_the_rotating_proxy_without_a_proxy_list_is_one_line_and_exit_2(project, site):
    project.write(
        "harvester.toml",
        project.root.joinpath("harvester.toml")
        .read_text()
        .replace("[project]", '[project]\nmiddlewares = ["harvester.middlewares.RotatingProxy"]'),
    )
    project.spider("follow", follow_spider("follow"))

    done = project.run("crawl", "follow", "-a", f"base={site.url}")

    assert done.returncode == 2
    assert "proxy_list is empty" in done.stderr and done.stderr.strip().count("\n") == 0
    assert site.requests == []


def test_a_request_with_a_bad_proxy_is_one_error_row_without_the_login(project, site):
    site.page("/", "<html><body><h1>home</h1></body></html>")
    project.spider(
        "own",
        """
        from harvester import Request, Spider

        class Own(Spider):
            name = "own"
            base = ""

            def start_requests(self):
                yield Request(self.base + "/", proxy="ftp://bot:s3cret@127.0.0.1:21")

            def parse(self, response):
                yield {"h1": response.css("h1::text").get()}
        """,
    )

    done = project.run("crawl", "own", "-a", f"base={site.url}")

    assert done.returncode == 1, done.stderr  # its only request failed: no page fetched
    assert "fetched no page" in done.stderr
    ((kind, message),) = project.sql("select kind, message from errors")
    assert "bad proxy URL 'ftp://127.0.0.1:21'" in message
    assert b"s3cret" not in (project.root / "harvest.db").read_bytes()
    assert site.requests == []
