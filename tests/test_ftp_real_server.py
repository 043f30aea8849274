"""The ftp:// transport against a real FTP server (ProFTPD) on loopback, without chroot.

The session logs in as a user whose home is a directory of tmp_path and sees
the whole file system, as a shell account on a real server does: paths are
relative to that home (RFC 1738), and `%2F` reaches an absolute path.
ProFTPD runs as a child of the test from a private configuration (its own
user file, no system account, no chroot, writes refused). scripts/test
installs it (apt package proftpd-basic); without it these tests fail, not skip.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harvester import Spider
from harvester.config import Settings, build
from harvester.crawler import crawl
from harvester.request import Request
from harvester.response import Response
from harvester.transports.ftp import FtpTransport

PROFTPD = shutil.which("proftpd") or "/usr/sbin/proftpd"
CONFIG = """
ServerType standalone
DefaultAddress 127.0.0.1
Port {port}
UseIPv6 off
User {user}
Group {group}
RootLogin on
RequireValidShell off
WtmpLog off
UseReverseDNS off
AuthOrder mod_auth_file.c
AuthUserFile {dir}/passwd
PidFile {dir}/proftpd.pid
ScoreboardFile {dir}/scoreboard
DelayTable none
SystemLog {dir}/system.log
TransferLog none
MaxInstances 30
<Limit WRITE SITE_CHMOD>
  DenyAll
</Limit>
"""


@dataclass
class RealServer:
    port: int
    home: Path
    outside: Path

    @property
    def url(self) -> str:
        return f"ftp://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def proftpd(tmp_path: Path) -> Iterator[RealServer]:
    if not Path(PROFTPD).exists():
        pytest.fail("ProFTPD is not installed: scripts/test installs it (apt-get install proftpd-basic)")
    etc, home = tmp_path / "etc", tmp_path / "home" / "alice"
    (home / "docs").mkdir(parents=True)
    etc.mkdir()
    (home / "readme.txt").write_text("hello from home")
    (home / "docs" / "guide.txt").write_text("guide")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the home")
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "s3cret"], capture_output=True, text=True, check=True
    ).stdout.strip()
    uid, gid = os.getuid(), os.getgid()  # alice is the user running the tests: she reads tmp_path
    (etc / "passwd").write_text(f"alice:{hashed}:{uid}:{gid}::{home}:/bin/false\n")
    (etc / "passwd").chmod(0o600)
    port = _free_port()
    config = CONFIG.format(port=port, dir=etc, user=pwd.getpwuid(uid).pw_name, group=grp.getgrgid(gid).gr_name)
    (etc / "proftpd.conf").write_text(config)
    server = subprocess.Popen(
        [PROFTPD, "--nodaemon", "--config", str(etc / "proftpd.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert server.poll() is None, f"proftpd exited: {server.stderr.read().decode()}"  # type: ignore[union-attr]
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "proftpd did not listen within 10 s"
            time.sleep(0.05)
        yield RealServer(port, home, outside)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def settings(server: RealServer, root: Path = Path(".")) -> Settings:
    """alice's login for exactly the server's origin."""
    return build(
        {"fetch": {"timeout": 10, "retries": 0}, "auth": {server.url: {"username": "alice", "password_env": "FTP_PW"}}},
        root=root,
        env={"FTP_PW": "s3cret"},
    )


def fetch(server: RealServer, url: str) -> Response:
    async def run() -> Response:
        transport = FtpTransport(settings(server))
        try:
            return await transport.fetch(Request(url))
        finally:
            await transport.aclose()

    return asyncio.run(run())


def test_the_root_url_lists_the_login_directory_not_the_file_system(proftpd: RealServer) -> None:
    listing = fetch(proftpd, proftpd.url + "/")
    assert listing.status == 200
    assert list(listing.links()) == [proftpd.url + "/docs/", proftpd.url + "/readme.txt"]


def test_a_file_url_is_relative_to_the_login_directory(proftpd: RealServer) -> None:
    assert fetch(proftpd, proftpd.url + "/readme.txt").body == b"hello from home"
    assert fetch(proftpd, proftpd.url + "/docs/guide.txt").body == b"guide"
    assert list(fetch(proftpd, proftpd.url + "/docs").links()) == [proftpd.url + "/docs/guide.txt"]


def test_an_encoded_slash_names_an_absolute_path(proftpd: RealServer) -> None:
    absolute = proftpd.url + "/%2F" + str(proftpd.outside).lstrip("/")
    assert fetch(proftpd, absolute).body == b"outside the home"
    directory = proftpd.url + "/%2F" + str(proftpd.home.parent).lstrip("/") + "/"
    assert list(fetch(proftpd, directory).links()) == [directory + "alice/"]


def test_a_crawl_from_the_root_url_walks_the_home_tree(proftpd: RealServer, tmp_path: Path, sql) -> None:
    class Walk(Spider):
        name = "walk"
        start_urls = [proftpd.url + "/"]

        def parse(self, response):
            if response.url.endswith("/"):
                yield from response.follow_all()
            else:
                yield {"path": response.url.removeprefix(proftpd.url), "body": response.text}

    run = asyncio.run(crawl(settings(proftpd, root=tmp_path), Walk))
    assert run.status == "finished" and run.stats.errors == 0
    assert sorted(sql(tmp_path, "select json_extract(data, '$.path'), json_extract(data, '$.body') from items")) == [
        ("/docs/guide.txt", "guide"),
        ("/readme.txt", "hello from home"),
    ]
