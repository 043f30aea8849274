"""A hostile site on loopback for the fault-barrier tests: a server that serves by path prefix.

`HostileSite` answers every path it knows by prefix (so a link whose control
characters a parser strips or percent-encodes is still served whatever its
final form), counts every hit. `stop_while_serving` stops a run while a page is held.
"""

from __future__ import annotations

import collections
import http.server
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from conftest import REPO

Answer = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        with site.lock:
            site.hits[self.path] += 1
        for prefix, answer in sorted(site.routes.items(), key=lambda pair: -len(pair[0])):
            if self.path == prefix or (prefix.endswith("*") and self.path.startswith(prefix[:-1])):
                answer(self)
                return
        send(self, 404, b"not found")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: HostileSite


def send(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    raw_headers: list[bytes] | None = None,
) -> None:
    """One response; `raw_headers` are written byte for byte (a header no library would send)."""
    handler.send_response(status)
    headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    for line in raw_headers or []:
        handler._headers_buffer.append(line + b"\r\n")  # type: ignore[attr-defined]
    handler.end_headers()
    handler.wfile.write(body)


@dataclass
class HostileSite:
    host: str = "127.0.0.1"
    port: int = 0
    routes: dict[str, Answer] = field(default_factory=dict)
    hits: collections.Counter[str] = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def page(self, path: str, html: str | bytes, **options: object) -> None:
        """Serve `html` at `path` (a trailing `*` serves every path with that prefix)."""
        body = html.encode() if isinstance(html, str) else html
        self.routes[path] = lambda handler: send(handler, 200, body, **options)  # type: ignore[arg-type]

    def hits_under(self, prefix: str) -> int:
        with self.lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))


@contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[HostileSite]:
    """A running site on `host` (loopback only), port chosen by the system."""
    assert host.startswith("127."), "tests serve on loopback only"
    site = HostileSite(host=host)
    server = _Server((host, 0), _Handler)
    server.site = site
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def stop_while_serving(project, site, path: str, *args: str) -> None:
    """Run `harvester ARGS` and stop it with SIGTERM while `site` is serving `path` (held until then).

    With one request slot (`fetch.concurrency=1`) and `path` claimed first,
    what the run leaves queued is known: a resume must do it.
    """
    release = threading.Event()

    def held(handler: http.server.BaseHTTPRequestHandler) -> None:
        release.wait(20)
        send(handler, 200, b"held")

    site.routes[path] = held
    first = subprocess.Popen(
        [sys.executable, "-m", "harvester", *args],
        cwd=project.root,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 30
    while site.hits[path] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    release.set()
    _, err = first.communicate(timeout=30)
    assert project.sql("select status from runs") == [("interrupted",)], err
