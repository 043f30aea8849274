"""Credentials bound to an origin: `[auth."origin"]` keys and URL userinfo.

Loopback servers on 127.0.0.7 (http, https and ftp, each on its own port)
record who sent an Authorization header or an FTP login; a credential must
reach exactly the origin it was meant for, robots.txt included. A password
given as URL userinfo must be used and then appear nowhere: not in the
database, the CLI's output, `harvester query`, or the emailed report.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, Site, _start
from test_report import smtp  # noqa: F401 - fixture: an aiosmtpd server on loopback

from harvester.config import build
from harvester.credentials import Credentials
from harvester.request import Request
from harvester.serialize import request_to_json

with warnings.catch_warnings():  # pyftpdlib is built on asyncore/asynchat, deprecated in 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

HOST = "127.0.0.7"
PASSWORD = "pw-S3CRET-7"
SPIDER = """
from harvester import Spider

class Visit(Spider):
    name = "visit"
    start = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = self.start.split(",")

    def parse(self, response):
        yield {"url": response.url, "status": response.status}
        if not response.url.startswith("ftp:"):
            yield from response.follow_all()
"""


def serve_area(site: Site) -> None:
    """`/` and `/area` answer 200 to anyone; robots.txt allows all; every request is recorded."""
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    site.page("/area", "<h1>area</h1>")


@pytest.fixture
def http7() -> Iterator[Site]:
    site = Site(host=HOST)
    server = _start(site)
    serve_area(site)
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def https7(ca) -> Iterator[Site]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    site = Site(host=HOST)
    server = _start(site, context)
    serve_area(site)
    yield site
    server.shutdown()
    server.server_close()


class FtpLogins:
    """An FTP server on 127.0.0.7 over `home` (anonymous or alice): `logins` records each USER and PASS."""

    def __init__(self, home: Path) -> None:
        self.logins: list[tuple[str, str]] = []
        authorizer = DummyAuthorizer()
        authorizer.add_user("alice", PASSWORD, str(home), perm="elr")
        authorizer.add_anonymous(str(home))
        record = self.logins

        class Recording(FTPHandler):
            def ftp_USER(self, line: str) -> None:
                record.append(("USER", line))
                super().ftp_USER(line)

            def ftp_PASS(self, line: str) -> None:
                record.append(("PASS", line))
                super().ftp_PASS(line)

        Recording.authorizer = authorizer
        self.server = FTPServer((HOST, 0), Recording)
        self.port = self.server.address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ftp://{HOST}:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.05, blocking=False)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.close_all()


@pytest.fixture
def ftp7(tmp_path: Path) -> Iterator[FtpLogins]:
    home = tmp_path / "ftp-home"
    home.mkdir()
    (home / "file.txt").write_text("ftp file")
    server = FtpLogins(home)
    yield server
    server.close()


def authorized(site: Site) -> list[str]:
    """The paths of the requests that carried an Authorization header."""
    return sorted(path for _, path, headers in site.requests if "Authorization" in headers)


def write_project(project, ca, key: str | None, extra: str = "") -> None:
    """A project whose spider visits `-a start=URL,...`; `[auth."key"]` is alice's login; `extra`
    goes at the end of [fetch] (it may open sections of its own)."""
    auth = f'[auth."{key}"]\nusername = "alice"\npassword_env = "AREA_PW"\n' if key else ""
    project.write(
        "harvester.toml",
        f"""
        [storage]
        url = "sqlite:///harvest.db"

        [fetch]
        retries = 0
        timeout = 10
        obey_robots = true
        ca_file = "{ca.path}"
        {extra}
        """,
    )
    with (project.root / "harvester.toml").open("a") as fh:
        fh.write(auth)
    project.spider("visit", SPIDER)


def crawl_all(project, ca, key: str | None, *urls: str, extra: str = "") -> subprocess.CompletedProcess[str]:
    write_project(project, ca, key, extra)
    result = project.run("crawl", "visit", "-a", "start=" + ",".join(urls), env={"AREA_PW": PASSWORD})
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("key", ["https", "http", "ftp", "bare host"])
def test_auth_reaches_exactly_the_origin_of_its_key(project, ca, http7, https7, ftp7, key) -> None:
    origins = {"https": https7.url, "http": http7.url, "ftp": ftp7.url, "bare host": HOST}
    crawl_all(project, ca, origins[key], https7.url + "/area", http7.url + "/area", ftp7.url + "/file.txt")
    assert len(project.sql("select * from pages")) == 3
    assert authorized(https7) == (["/area", "/robots.txt"] if key == "https" else [])
    assert authorized(http7) == (["/area", "/robots.txt"] if key == "http" else [])
    users = [value for command, value in ftp7.logins if command == "USER"]
    assert users == (["alice"] if key == "ftp" else ["anonymous"])
    if key != "ftp":
        assert PASSWORD not in [value for _, value in ftp7.logins]


def test_a_bare_host_means_its_https_origin_only_and_default_ports_are_one_origin() -> None:
    settings = build({"auth": {HOST: {"username": "alice"}, f"http://{HOST}:8080": {"username": "bob"}}})
    credentials = Credentials(settings)

    def user(url: str) -> str | None:
        login = credentials.for_request(Request(url))
        return login.username if login else None

    assert [user(f"https://{HOST}/x"), user(f"https://{HOST}:443/x"), user(f"HTTPS://{HOST.upper()}/x")] == [
        "alice"
    ] * 3
    assert [user(f"http://{HOST}/x"), user(f"ftp://{HOST}/x"), user(f"https://{HOST}:8443/x")] == [None] * 3
    assert [user(f"http://{HOST}:8080/x"), user(f"https://{HOST}:8080/x")] == ["bob", None]


def test_userinfo_is_taken_out_of_the_url_as_the_request_is_built() -> None:
    request = Request(f"http://al%40ice:p%3Aw-{PASSWORD}@{HOST}:8080/a?mail=b@c")
    assert request.url == f"http://{HOST}:8080/a?mail=b@c"
    assert (request.userinfo.username, request.userinfo.password) == ("al@ice", f"p:w-{PASSWORD}")
    assert PASSWORD not in repr(request) + repr(request.userinfo) + json.dumps(request_to_json(request))
    assert Request(f"https://{HOST}/a@b").url == f"https://{HOST}/a@b"  # an @ in the path is no userinfo


def test_a_key_with_a_port_but_no_scheme_is_refused_at_start_naming_the_origin_form(project) -> None:
    project.write("harvester.toml", '[auth."127.0.0.1:8080"]\nusername = "alice"\n')
    project.spider("visit", SPIDER)
    result = project.run("crawl", "visit", "-a", "start=http://127.0.0.1:1/")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert '"http://127.0.0.1:8080"' in result.stderr and '"https://127.0.0.1:8080"' in result.stderr


def basic_only(handler, body: str, status: int = 200) -> None:
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    if handler.headers.get("Authorization") == expected:
        handler.send_text(status, body)
    else:
        handler.send_text(401, "who are you", headers={"WWW-Authenticate": 'Basic realm="area"'})


def test_url_userinfo_logs_in_to_its_origin_only_and_is_never_recorded(project, ca, http7, other_site, smtp) -> None:  # noqa: F811
    controller, recorder = smtp()
    links = f'<a href="/child">c</a><a href="/missing">m</a><a href="/moved">r</a><a href="{other_site.url}/x">o</a>'
    http7.routes["/"] = lambda h: basic_only(h, links)
    http7.routes["/child"] = lambda h: basic_only(h, "<h1>child</h1>")
    http7.routes["/moved"] = lambda h: h.send_text(302, "", headers={"Location": "/landing"})
    http7.routes["/landing"] = lambda h: basic_only(h, "<h1>landing</h1>")
    http7.routes["/missing"] = lambda h: basic_only(h, "gone", status=404)
    other_site.page("/x", "<h1>other</h1>")
    other_site.page("/robots.txt", "", status=404)
    start = f"http://alice:{PASSWORD}@{HOST}:{http7.port}/"
    result = crawl_all(
        project,
        ca,
        None,
        start,
        extra=f"""
        [project]
        spiders = ["spiders"]
        pipelines = ["store", "email_report"]

        [email]
        host = "127.0.0.1"
        port = {controller.port}
        sender = "harvester@example.org"
        to = ["team@example.org"]
        attach_csv = true
        """,
    )
    assert sorted(project.sql("select url, status from pages")) == sorted(
        [
            (f"{http7.url}/", 200),
            (f"{http7.url}/child", 200),
            (f"{http7.url}/missing", 404),
            (f"{http7.url}/moved", 200),
            (f"{other_site.url}/x", 200),
        ]
    )
    assert authorized(http7) == ["/", "/child", "/landing", "/missing", "/moved", "/robots.txt"]
    assert authorized(other_site) == []
    assert project.sql("select url, kind from errors") == [(f"{http7.url}/missing", "http")]
    query = project.run("query", "select * from items", "--format", "json")
    pages = project.run("query", "select * from pages", "--format", "csv")
    assert {item["url"] for item in json.loads(query.stdout)} >= {f"{http7.url}/", f"{http7.url}/child"}
    message = "\n".join(str(part.get_content()) for part in recorder.only_message().walk() if not part.is_multipart())
    assert f"{http7.url}/missing" in message  # the report names the failed page, without the userinfo
    stored = b"".join(path.read_bytes() for path in project.root.glob("harvest.db*")).decode("latin-1")
    for text in (stored, result.stdout, result.stderr, query.stdout, pages.stdout, message):
        assert PASSWORD not in text
        assert f"alice:{PASSWORD}" not in text


def test_userinfo_of_a_start_url_logs_in_again_after_resume_without_being_stored(project, ca, http7) -> None:
    children = [f"/page/{i}" for i in range(20)]
    http7.routes["/"] = lambda h: basic_only(h, "".join(f'<a href="{c}">c</a>' for c in children))
    for child in children:
        http7.routes[child] = lambda h: (time.sleep(0.1), basic_only(h, "<h1>child</h1>"))
    write_project(project, ca, None, extra="concurrency = 1")
    start = f"start=http://alice:{PASSWORD}@{HOST}:{http7.port}/"
    process = subprocess.Popen(
        [sys.executable, "-m", "harvester", "crawl", "visit", "-a", start],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "AREA_PW": ""},
    )
    deadline = time.monotonic() + 30
    while len(authorized(http7)) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    first = process.communicate(timeout=30)
    assert project.sql("select status from runs") == [("interrupted",)]
    resumed = project.run("crawl", "visit", "-a", start, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert project.sql("select status from runs") == [("finished",)]
    assert project.sql("select count(*), min(status), max(status) from pages") == [(21, 200, 200)]
    paths = [path for _, path, _ in http7.requests if path != "/robots.txt"]
    assert sorted(set(paths)) == sorted(["/", *children]) and authorized(http7) == sorted(
        [path for _, path, _ in http7.requests]
    )
    stored = b"".join(path.read_bytes() for path in project.root.glob("harvest.db*")).decode("latin-1")
    for text in (stored, *first, resumed.stdout, resumed.stderr):
        assert PASSWORD not in text


def test_ftp_userinfo_is_the_login_of_that_server_only(project, ca, http7, ftp7) -> None:
    result = crawl_all(project, ca, None, f"ftp://alice:{PASSWORD}@{HOST}:{ftp7.port}/file.txt", f"{http7.url}/area")
    assert ftp7.logins == [("USER", "alice"), ("PASS", PASSWORD)]
    assert authorized(http7) == []
    assert sorted(project.sql("select url from pages")) == [(f"{ftp7.url}/file.txt",), (f"{http7.url}/area",)]
    stored = b"".join(path.read_bytes() for path in project.root.glob("harvest.db*")).decode("latin-1")
    assert PASSWORD not in stored + result.stdout + result.stderr
