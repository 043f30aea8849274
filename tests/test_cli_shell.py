"""`harvester shell`, driven through a pseudo-terminal as a person types at it."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, Project, Site
from test_cli import ok, run_in

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[=>()][0-9A-Za-z]?|\r")


class Terminal:
    """`harvester ARGS` on a pseudo-terminal: `type()` a line, `expect()` the screen to show a pattern."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.fd, child = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harvester", *args],
            cwd=cwd,
            stdin=child,
            stdout=child,
            stderr=child,
            env={
                **os.environ,
                "PYTHONPATH": str(REPO),
                "TERM": "xterm",
                "COLUMNS": "120",
                "LINES": "40",
                **(env or {}),
            },
            start_new_session=True,
        )
        os.close(child)
        self.seen = ""  # everything shown since the last expect(), escape codes removed

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def expect(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, self.seen)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not shown within {timeout} s; the screen:\n{self.seen}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    data = b""
                if not data:
                    raise AssertionError(f"the shell ended before showing {pattern!r}; the screen:\n{self.seen}")
                self.seen += _ANSI.sub("", data.decode("utf-8", "replace"))
        self.seen = self.seen[match.end() :]
        return match

    def close(self) -> int:
        """The shell's exit status, once it ends (killed after 20 s); the terminal closed."""
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=10)
        finally:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1


@pytest.fixture
def shop(site: Site) -> Site:
    site.page("/", "<h1>Shop</h1><p class='price'>12.50</p><a href='/b'>b</a>")
    site.page("/b", "<h1>Beta</h1>")
    site.routes["/login"] = lambda h: h.send_text(200, "in", headers={"Set-Cookie": "who=ann; Path=/"})
    site.routes["/me"] = lambda h: h.send_text(200, f"<h1>{h.headers.get('Cookie')}</h1>")
    return site


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    """Terminals a test opens; any shell still running at the end is killed."""
    opened: list[Terminal] = []
    yield opened
    for term in opened:
        if term.process.poll() is None:
            os.killpg(term.process.pid, signal.SIGKILL)
        term.close()


def test_python_console_with_the_page_and_fetch_ready(tmp_path: Path, shop: Site, terminal: list[Terminal]) -> None:
    term = Terminal(tmp_path, "shell", f"{shop.url}/", "--console", "python")
    terminal.append(term)
    term.expect(r"\[s\] 200 OK .*/ \(\d+ bytes\)")
    term.expect(r"fetch\(url_or_request\)")
    term.expect(">>> ")
    term.type("response.status")
    term.expect(r"\n200\n>>> ")
    term.type('response.css("p.price::text").get()')
    term.expect(r"'12\.50'\n>>> ")
    term.type(f'fetch("{shop.url}/b")')
    term.expect(r"\[s\] 200 OK .*/b ")
    term.type("response.xpath('//h1/text()').get(), request.url")
    term.expect(rf"\('Beta', '{re.escape(shop.url)}/b'\)")
    term.type(f'fetch(Request("{shop.url}/login")); fetch("{shop.url}/me")')  # one cookie jar for the session
    term.type("response.css('h1::text').get()")
    term.expect(r"'who=ann'\n>>> ")
    term.type("spider.name, Selector.__name__, Request.__name__")
    term.expect(r"\('default', 'Selector', 'Request'\)\n>>> ")
    term.type("exit()")
    assert term.close() == 0


def test_a_failed_fetch_keeps_the_console_and_the_last_response(
    tmp_path: Path, shop: Site, terminal: list[Terminal]
) -> None:
    term = Terminal(tmp_path, "shell", "--console", "python")
    terminal.append(term)
    term.expect(">>> ")
    term.type("response is None")
    term.expect(r"True\n>>> ")
    term.type(f'fetch("{shop.url}/")')
    term.expect(r"\[s\] 200 OK")
    term.type("fetch('http://127.0.0.1:1/')")
    term.expect(r"\[s\] fetch failed: \w+: .*response is unchanged")
    term.type("response.url")
    term.expect(rf"'{re.escape(shop.url)}/'\n>>> ")
    os.write(term.fd, b"\x04")  # Ctrl-D
    assert term.close() == 0


def test_ipython_is_the_console_when_installed(tmp_path: Path, shop: Site, terminal: list[Terminal]) -> None:
    pytest.importorskip("IPython")
    term = Terminal(tmp_path, "shell", f"{shop.url}/", env={"IPYTHONDIR": str(tmp_path / "ipython")})
    terminal.append(term)
    term.expect(r"In \[1\]: ")
    term.type("response.status")
    term.expect(r"Out\[1\]: 200")
    term.expect(r"In \[2\]: ")
    term.type(f'fetch("{shop.url}/b")')
    term.expect(r"\[s\] 200 OK .*/b ")
    term.expect(r"In \[3\]: ")
    term.type("response.css('h1::text').get()")
    term.expect(r"Out\[3\]: 'Beta'")
    term.expect(r"In \[4\]: ")
    term.type("exit")
    assert term.close() == 0


def test_a_spider_of_the_project_fetches_with_the_project_settings(
    project: Project, shop: Site, terminal: list[Terminal]
) -> None:
    shop.routes["/ua"] = lambda h: h.send_text(200, f"<h1>{h.headers.get('User-Agent')}</h1>")
    config = project.root / "harvester.toml"
    config.write_text(config.read_text().replace("[fetch]", '[fetch]\nuser_agent = "shopbot/2"'))
    project.spider(
        "shop",
        f'''
        from harvester import Spider

        class Shop(Spider):
            name = "shop"
            start_urls = ["{shop.url}/"]

            def parse(self, response):
                yield {{"title": response.css("h1::text").get()}}
        ''',
    )
    term = Terminal(project.root, "shell", "--spider", "shop", f"{shop.url}/ua", "--console", "python")
    terminal.append(term)
    term.expect(">>> ")
    term.type("response.css('h1::text').get(), spider.name")
    term.expect(r"\('shopbot/2', 'shop'\)")
    term.type("list(spider.parse(response))")
    term.expect(r"\[\{'title': 'shopbot/2'\}\]")
    term.type("exit()")
    assert term.close() == 0


def test_code_given_with_c_is_evaluated_on_the_page_and_printed(tmp_path: Path, shop: Site) -> None:
    result = run_in(tmp_path, "shell", f"{shop.url}/", "-c", "response.css('p.price::text').get(), response.status")
    assert ok(result) == "('12.50', 200)\n"
    assert "200 OK" in result.stderr
    failed = run_in(tmp_path, "shell", "http://127.0.0.1:1/", "-c", "response.status")
    assert failed.returncode == 1 and "fetch failed" in failed.stderr and failed.stdout == ""
