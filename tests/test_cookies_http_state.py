"""The http-state suite (RFC 6265) through the real fetch path, against a loopback server.

As the suite's own server does: `/cookie-parser?NAME` answers a redirect with
the case's `Set-Cookie` lines, the fetcher follows it to
`/cookie-parser-result?NAME`, and the `Cookie` header that second request
carries, byte for byte, must be the case's expected one. The cases run on
`home.example.org` and its neighbours (the suite's `hosts`), which
`[fetch] resolve` sends to 127.0.0.1; the port the suite's `Location` headers
name (8888) is replaced by the server's own. Every case runs: the few that
cannot pass are listed below with the reason, as strict expected failures.
The data is `tests/data/http-state` (see `tests/data/http-state.md`).
"""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harvester import Request
from harvester.config import build
from harvester.cookies import CookieStore, parse_cookie_date
from harvester.fetching.fetcher import Fetcher

DATA = Path(__file__).parent / "data" / "http-state"
CASES = sorted(path.name.removesuffix("-test") for path in (DATA / "parser").glob("*-test"))
HOSTS = sorted({line.split()[1] for line in (DATA / "hosts").read_text().splitlines() if line.strip()})
START_HOST = "home.example.org"

# Cases whose cookie lives until a date that was in the future when the suite was written (2011):
# once it has passed, the cookie is expired when set, and the case cannot pass any more.
LIVES_UNTIL = {
    "0002": datetime(2019, 8, 7, 8, 4, 19, tzinfo=UTC),
    "comma0006": datetime(2019, 8, 7, 8, 4, 19, tzinfo=UTC),
    "comma0007": datetime(2019, 8, 7, 8, 4, 19, tzinfo=UTC),
    "chromium0016": datetime(2027, 4, 18, 21, 6, 29, tzinfo=UTC),
    "chromium0017": datetime(2027, 4, 18, 21, 6, 29, tzinfo=UTC),
    "0003": datetime(2027, 8, 7, 8, 4, 19, tzinfo=UTC),
}
EXPIRED = "its Expires date, in the future when the suite was written, is now in the past"
# Cases that cannot pass, and why. Each is a strict xfail: one that starts passing fails the suite.
UNPASSABLE = {
    **{name: EXPIRED for name, until in LIVES_UNTIL.items() if until < datetime.now(UTC)},
    "disabled-chromium0022": "disabled upstream: a NUL inside the header line, which the HTTP parser (h11) "
    "refuses with the whole response (RFC 6265bis ignores such a cookie too)",
    "disabled-chromium0023": "disabled upstream: a bare CR inside the header line, which the HTTP parser (h11) "
    "refuses with the whole response (RFC 6265bis ignores such a cookie too)",
    "disabled-path0029": "disabled upstream: it expects /f%6Fo/ in the request path to path-match /foo/ in the "
    "cookie's; RFC 6265 and browsers compare the path as sent, percent-encoded",
}


def expected_header(name: str) -> bytes | None:
    """The `Cookie` value a case expects (its `Cookie:` line), None when it expects no header."""
    text = (DATA / "parser" / f"{name}-expected").read_bytes()
    match = re.search(rb"^Cookie:[ \t]*(.*?)\r?$", text, re.MULTILINE)
    return match.group(1) if match else None


class SuiteHandler(http.server.BaseHTTPRequestHandler):
    """The suite's test server, writing the case's header lines as the bytes in the file."""

    protocol_version = "HTTP/1.1"
    server: SuiteServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path, _, name = self.path.partition("?")
        if path == "/cookie-parser" and name in CASES:
            lines = [b"HTTP/1.1 302 Found"]
            location = b"/cookie-parser-result?" + name.encode()
            for line in (DATA / "parser" / f"{name}-test").read_bytes().split(b"\n"):
                header, colon, value = line.rstrip(b"\r").partition(b":")
                if not colon:
                    continue
                value = value.lstrip(b" \t")
                if header.lower() == b"location":
                    location = value.replace(b":8888", b":%d" % self.server.server_address[1])
                else:
                    lines.append(header + b": " + value)
            lines += [b"Location: " + location, b"Content-Length: 0", b"", b""]
            self.wfile.write(b"\r\n".join(lines))
        elif path.startswith("/cookie-parser-result") and name in CASES:
            cookies = self.headers.get_all("Cookie") or []  # http.server decodes headers as latin-1
            self.server.seen[name] = [value.encode("latin-1") for value in cookies]
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        else:
            self.wfile.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


class SuiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: dict[str, list[bytes]]


@pytest.fixture(scope="module")
def suite_server() -> Iterator[SuiteServer]:
    server = SuiteServer(("127.0.0.1", 0), SuiteHandler)
    server.seen = {}
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


async def run_case(name: str, port: int) -> None:
    """One user agent, one case: a fresh fetcher (its own cookie jar) follows the case's redirect."""
    settings = build(
        {
            "fetch": {
                "resolve": {host: "127.0.0.1" for host in HOSTS},
                "obey_robots": False,
                "retries": 0,
                "timeout": 5,
                "concurrency": 1,
            }
        }
    )
    fetcher = Fetcher(settings)
    try:
        response = await fetcher(Request(f"http://{START_HOST}:{port}/cookie-parser?{name}"))
    finally:
        await fetcher.aclose()
    assert response.status == 200, response.url


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=UNPASSABLE[name]))
        if name in UNPASSABLE
        else name
        for name in CASES
    ],
)
def test_http_state_case(suite_server, name):
    asyncio.run(asyncio.wait_for(run_case(name, suite_server.server_address[1]), 20))
    expected = expected_header(name)
    assert suite_server.seen[name] == ([] if expected is None else [expected])


def test_the_suite_is_all_there():
    assert len(CASES) == 222
    assert len([name for name in CASES if not name.startswith("disabled-")]) == 218
    assert set(HOSTS) >= {START_HOST, "sibling.example.org", "subdomain.home.example.org"}


# -- the listed expired cases, at the suite's own time ----------------------------------------------


def test_the_cases_with_dates_pass_at_the_time_the_suite_was_written():
    """What the network run cannot show once their dates pass: in 2011, the jar sends what they expect."""
    written = datetime(2011, 4, 1, tzinfo=UTC).timestamp()
    for name in LIVES_UNTIL:
        store = CookieStore(now=lambda: written)
        for line in (DATA / "parser" / f"{name}-test").read_bytes().decode("latin-1").splitlines():
            header, _, value = line.partition(":")
            if header.lower() == "set-cookie":
                store.set(value.strip(" \t"), "http", START_HOST, "/cookie-parser")
        sent = store.header("http", START_HOST, "/cookie-parser-result")
        assert (sent.encode("latin-1") if sent is not None else None) == expected_header(name), name


# -- cookie dates (RFC 6265 §5.1.1) ---------------------------------------------------------------


def date_examples() -> list[tuple[str, str | None]]:
    examples = []
    for file in sorted((DATA / "dates").glob("*.json")):
        lines = [line for line in file.read_text().splitlines() if not line.lstrip().startswith("//")]
        examples += [(case["test"], case["expected"]) for case in json.loads("\n".join(lines))]
    return examples


@pytest.mark.parametrize(("text", "expected"), date_examples())
def test_cookie_date_examples(text, expected):
    moment = parse_cookie_date(text)
    assert (moment.strftime("%a, %d %b %Y %H:%M:%S GMT") if moment else None) == expected


def test_all_date_examples_are_run():
    assert len(date_examples()) == 15 + 55
