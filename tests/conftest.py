"""Shared fixtures: real HTTP servers on loopback, and throwaway projects in tmp_path."""

from __future__ import annotations

import collections
import http.server
import os
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

Route = Callable[["Handler"], None]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        self.server.site.record(self)
        routes = self.server.site.routes
        route = routes.get(self.path) or routes.get(self.path.split("?")[0])
        if route is None:
            self.send_text(404, "not found")
        else:
            route(self)

    do_GET = do_POST = do_HEAD = _serve

    def send_not_modified(self, etag: str) -> None:
        """A 304 for a conditional request whose validator still matches."""
        self.send_response(304)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_text(
        self,
        status: int,
        body: str | bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: Site


@dataclass
class Site:
    """A loopback HTTP server whose paths are served by `routes`; it counts every hit."""

    host: str = "127.0.0.1"
    routes: dict[str, Route] = field(default_factory=dict)
    hits: collections.Counter[str] = field(default_factory=collections.Counter)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    scheme: str = "http"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def record(self, handler: Handler) -> None:
        with self._lock:
            self.hits[handler.path] += 1
            self.requests.append((handler.command, handler.path, dict(handler.headers.items())))

    def page(
        self,
        path: str,
        body: str,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.routes[path] = lambda h: h.send_text(status, body, content_type, headers)


def _start(site: Site, tls: ssl.SSLContext | None = None) -> Server:
    server = Server((site.host, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        site.scheme = "https"
    server.site = site
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    server = _start(site)
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def other_site() -> Iterator[Site]:
    """A second server on another loopback address (127.0.0.2): a different host."""
    site = Site(host="127.0.0.2")
    server = _start(site)
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway certificate authority; `ca.path` is its PEM file, for `ca_file`."""
    import trustme

    authority = trustme.CA()
    authority.path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(authority.path))
    return authority


@pytest.fixture
def tls_site(ca) -> Iterator[Site]:
    """An https server on 127.0.0.1 with a certificate from `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    site = Site()
    server = _start(site, context)
    yield site
    server.shutdown()
    server.server_close()


@dataclass
class Project:
    """A project directory: harvester.toml, a spiders package, a database in tmp_path."""

    root: Path

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def spider(self, module: str, source: str) -> None:
        self.write(f"spiders/{module}.py", source)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'harvest.db'}"

    def run(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`harvester ARGS` in the project directory, as a user runs it."""
        return subprocess.run(
            [sys.executable, "-m", "harvester", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        )

    def sql(self, query: str) -> list[tuple]:
        import sqlite3

        with sqlite3.connect(self.root / "harvest.db") as connection:
            return connection.execute(query).fetchall()


def follow_spider(name: str) -> str:
    """Source of a spider `name` that starts at `-a base=URL`, follows every link and stores
    an item `{"page": ...}` for each page under /p/."""
    return f"""
from harvester import Spider

class Follow(Spider):
    name = "{name}"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/"]

    def parse(self, response):
        if "/p/" in response.url:
            yield {{"page": response.url.rsplit("/", 1)[1]}}
        yield from response.follow_all()
"""


FAST_CONFIG = """
[project]
spiders = ["spiders"]
pipelines = ["store"]

[storage]
url = "sqlite:///harvest.db"

[fetch]
concurrency = 8
per_host = 8
timeout = 10
retries = 2
backoff = 0.05
obey_robots = false
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    project.write("harvester.toml", FAST_CONFIG)
    project.write("spiders/__init__.py", "")
    return project


@pytest.fixture
def sql() -> Callable[[Path, str], list[tuple]]:
    """Rows of a query on the harvest.db in a directory."""
    import sqlite3

    def query(root: Path, statement: str) -> list[tuple]:
        with sqlite3.connect(root / "harvest.db") as connection:
            return connection.execute(statement).fetchall()

    return query
