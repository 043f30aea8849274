"""Workers sharing one run on many hosts: nothing lost when one dies, polite across all of them.

A loopback server answers for hosts h0.test ... (reached through `[fetch]
resolve`, told apart by their Host header) and logs every request it gets
with the moment it arrived and the worker that sent it (its User-Agent).
"""

from __future__ import annotations

import collections
import datetime as dt
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import REPO
from sqlalchemy import create_engine, text

pytest_plugins = ["pg"]

# Gaps are measured as the server sees them: it stamps a request when it accepts its
# connection or reads it, always before it answers.

SPIDER = """
from harvester import Spider

class Hosts(Spider):
    name = "hosts"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [url for url in self.base.split(",")]

    def parse(self, response):
        if "/p/" in response.url:
            yield {"url": response.url}
        yield from response.follow_all()
"""


@dataclass
class Hit:
    host: str
    path: str
    worker: str
    wall: float
    monotonic: float


@dataclass
class Hosts:
    """`hosts` sites of `pages` pages each; page k links to k+1 and to the next host's page k."""

    hosts: int
    pages: int
    port: int = 0
    slow: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def name(self, n: int) -> str:
        return f"h{n}.test"

    def url(self, n: int, path: str) -> str:
        return f"http://{self.name(n)}:{self.port}{path}"

    @property
    def every_page(self) -> set[tuple[str, str]]:
        return {(self.name(h), f"/p/{k}") for h in range(self.hosts) for k in range(self.pages)}

    def body(self, host: str, path: str) -> str:
        n = int(host.split(".")[0][1:])
        if path == "/":
            return '<a href="/p/0">start</a>'
        k = int(path.rsplit("/", 1)[1])
        links = [f'<a href="/p/{k + 1}">next</a>'] if k + 1 < self.pages else []
        links.append(f'<a href="{self.url((n + 1) % self.hosts, f"/p/{k}")}">across</a>')
        return f"<h1>{host} {k}</h1>" + "".join(links)

    def fetched(self) -> collections.Counter[tuple[str, str]]:
        with self.lock:
            return collections.Counter((hit.host, hit.path) for hit in self.hits if hit.path.startswith("/p/"))

    def closest(self) -> tuple[float, Hit, Hit]:
        """The two requests to one host that arrived closest together, and their gap (server-side)."""
        by_host: dict[str, list[Hit]] = collections.defaultdict(list)
        for hit in self.hits:
            by_host[hit.host].append(hit)
        pairs = [
            (b.monotonic - a.monotonic, a, b)
            for hits in by_host.values()
            for a, b in zip(sorted(hits, key=lambda h: h.monotonic), sorted(hits, key=lambda h: h.monotonic)[1:])
        ]
        return min(pairs, key=lambda pair: pair[0])


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    site = Hosts(hosts=10, pages=20)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            arrived = getattr(self, "accepted", None) or (time.time(), time.monotonic())
            self.accepted = None  # later requests on this connection arrive when they are read
            host = (self.headers.get("Host") or "").split(":")[0]
            with site.lock:
                site.hits.append(Hit(host, self.path, self.headers.get("User-Agent", ""), *arrived))
            if site.slow:
                time.sleep(site.slow)
            body = site.body(host, self.path).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        """Stamps each connection when it is accepted: the first request on it arrived then (its
        handler's thread may start much later on a busy machine)."""

        def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
            stamps[request.fileno()] = (time.time(), time.monotonic())
            super().process_request(request, client_address)

    stamps: dict[int, tuple[float, float]] = {}

    class Stamped(Handler):
        def setup(self) -> None:
            super().setup()
            self.accepted = stamps.pop(self.request.fileno(), None)

    server = Server(("127.0.0.1", 0), Stamped)
    server.daemon_threads = True
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield site
    server.shutdown()
    server.server_close()


def write_project(root: Path, site: Hosts, db: str, delay: float, lease: float) -> None:
    (root / "spiders").mkdir()
    (root / "spiders" / "__init__.py").write_text("")
    (root / "spiders" / "hosts.py").write_text(SPIDER)
    resolve = ", ".join(f'"{site.name(n)}" = "127.0.0.1"' for n in range(site.hosts))
    (root / "harvester.toml").write_text(f"""
[project]
spiders = ["spiders"]
pipelines = ["store"]

[storage]
url = "{db}"

[crawl]
lease = {lease}

[fetch]
concurrency = 4
per_host = 1
delay = {delay}
timeout = 10
retries = 1
backoff = 0.05
obey_robots = false
resolve = {{ {resolve} }}
""")


def start_worker(root: Path, site: Hosts, name: str) -> subprocess.Popen[str]:
    starts = ",".join(site.url(n, "/") for n in range(site.hosts))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harvester",
            "worker",
            "hosts",
            "-a",
            f"base={starts}",
            "-s",
            f"fetch.user_agent={name}",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def harvester(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harvester", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def wait_for(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def rows(db: str, query: str) -> list[tuple]:
    engine = create_engine(db)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_a_killed_worker_loses_nothing_and_the_run_finishes_after_the_last_page(
    database, hosts: Hosts, tmp_path: Path, request: pytest.FixtureRequest
):
    db = request.getfixturevalue("pg_url") if database == "postgresql" else f"sqlite:///{tmp_path / 'harvest.db'}"
    delay = 0.2
    write_project(tmp_path, hosts, db, delay=delay, lease=2.0)
    total = hosts.hosts * hosts.pages
    workers = {f"w{n}": start_worker(tmp_path, hosts, f"w{n}") for n in range(4)}
    try:
        wait_for(lambda: sum(hosts.fetched().values()) >= total * 0.3, timeout=60)
        with hosts.lock:
            killed_before = len(hosts.hits)
        workers["w0"].send_signal(signal.SIGKILL)
        workers["w0"].wait(timeout=10)
        held = {
            urlsplit(url).hostname + urlsplit(url).path
            for (url,) in rows(  # its claims: in flight or unwritten
                db,
                f"select f.request ->> 'url' from frontier f join workers w on f.worker = w.id "
                f"where w.pid = {workers['w0'].pid} and f.state = 'claimed'",
            )
        }
        with hosts.lock:
            by_dead = sum(hit.worker == "w0" for hit in hosts.hits)
        workers["late"] = start_worker(tmp_path, hosts, "late")
        results = {name: worker.communicate(timeout=120) for name, worker in workers.items() if name != "w0"}
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.kill()
    for name, (out, err) in results.items():
        assert workers[name].returncode == 0, (name, err)
    fetched = hosts.fetched()
    assert set(fetched) == hosts.every_page  # every page fetched
    twice = [page for page, n in fetched.items() if n > 1]
    assert all(fetched[page] == 2 for page in twice)
    assert {host + path for host, path in twice} <= held  # only what the killed worker held
    assert by_dead > 0 and killed_before < total
    assert sum(hit.worker == "late" for hit in hosts.hits) > 0  # the late joiner took part
    stored = rows(db, "select url from items")
    assert len(stored) == total and len(set(stored)) == total  # every item stored once
    ((status, finished_at),) = rows(db, "select status, finished_at from runs")
    assert status == "finished"
    if isinstance(finished_at, str):
        finished_at = dt.datetime.fromisoformat(finished_at)
    if finished_at.tzinfo is None:
        finished_at = finished_at.replace(tzinfo=dt.UTC)
    assert finished_at.timestamp() >= max(hit.wall for hit in hosts.hits)  # finished after the last page
    assert rows(db, "select count(*) from frontier") == [(0,)]
    gap, first, second = hosts.closest()
    assert gap >= delay, (first, second)


def test_per_host_and_delay_hold_across_all_workers(hosts: Hosts, pg_url: str, tmp_path: Path):
    hosts.hosts, hosts.pages = 3, 12
    delay = 0.2
    write_project(tmp_path, hosts, pg_url, delay=delay, lease=10.0)
    workers = [start_worker(tmp_path, hosts, f"w{n}") for n in range(4)]
    results = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err
    assert set(hosts.fetched()) == hosts.every_page
    assert len({hit.worker for hit in hosts.hits}) >= 2  # shared, not one worker doing it all
    gap, first, second = hosts.closest()
    assert gap >= delay, (first, second)
    assert rows(pg_url, "select status from runs") == [("finished",)]
    listed = harvester(tmp_path, "runs")
    assert listed.returncode == 0 and " finished " in listed.stdout, listed.stderr


def test_a_stalled_worker_whose_lease_was_taken_over_writes_nothing_late(hosts: Hosts, pg_url: str, tmp_path: Path):
    hosts.hosts, hosts.pages, hosts.slow = 4, 10, 0.3
    write_project(tmp_path, hosts, pg_url, delay=0.0, lease=1.0)
    stalled = start_worker(tmp_path, hosts, "stalled")
    try:
        wait_for(lambda: sum(hit.worker == "stalled" for hit in hosts.hits) >= 8, timeout=60)
        stalled.send_signal(signal.SIGSTOP)  # paused mid-request, as a frozen VM: its leases run out
        shown = harvester(tmp_path, "runs", "--run", "1")
        assert shown.returncode == 0, shown.stderr
        (line,) = [line for line in shown.stdout.splitlines() if f" {stalled.pid} " in line]
        assert int(line.split()[-1]) > 0  # the requests it holds
        assert "hosts waiting" in shown.stdout and "running" in shown.stdout
        time.sleep(0.5)
        other = start_worker(tmp_path, hosts, "other")
        out, err = other.communicate(timeout=120)
        assert other.returncode == 0, err
        stalled.send_signal(signal.SIGCONT)  # its requests' outcomes arrive late, with stale tokens
        stalled.communicate(timeout=60)
    finally:
        for worker in (stalled,):
            if worker.poll() is None:
                worker.send_signal(signal.SIGCONT)
                worker.kill()
    fetched = hosts.fetched()
    assert set(fetched) == hosts.every_page
    assert any(n > 1 for n in fetched.values())  # some were in flight when it stalled: fetched again
    total = hosts.hosts * hosts.pages
    stored = rows(pg_url, "select url from items")
    assert len(stored) == total and len(set(stored)) == total
    pages = rows(pg_url, "select url, count(*) from pages where url like '%/p/%' group by url")
    assert len(pages) == total and {n for _, n in pages} == {1}
    assert rows(pg_url, "select status from runs") == [("finished",)]
    listed = harvester(tmp_path, "runs")
    assert listed.returncode == 0 and " finished " in listed.stdout, listed.stderr


def test_a_request_in_progress_keeps_its_lease_past_the_lease_time(hosts: Hosts, pg_url: str, tmp_path: Path):
    hosts.hosts, hosts.pages, hosts.slow = 1, 1, 2.5  # each page takes 2.5 s: more than twice the lease
    write_project(tmp_path, hosts, pg_url, delay=0.0, lease=1.0)
    first = start_worker(tmp_path, hosts, "first")
    try:
        wait_for(lambda: len(hosts.hits) >= 1, timeout=30)
        second = start_worker(tmp_path, hosts, "second")  # waits: the page in progress is not taken over
        results = [first.communicate(timeout=60), second.communicate(timeout=60)]
    finally:
        for worker in (first,):
            if worker.poll() is None:
                worker.kill()
    assert first.returncode == 0 and second.returncode == 0, results
    assert collections.Counter((hit.host, hit.path) for hit in hosts.hits) == {
        ("h0.test", "/"): 1,
        ("h0.test", "/p/0"): 1,
    }
    assert rows(pg_url, "select status from runs") == [("finished",)]
