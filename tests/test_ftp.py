"""The ftp:// transport against a real pyftpdlib server on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():  # pyftpdlib is built on asyncore/asynchat, deprecated in 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
    from pyftpdlib.servers import FTPServer

from harvester.config import Settings, build
from harvester.exceptions import FetchTimeout, NetworkError, TooLarge
from harvester.request import Request
from harvester.response import Response
from harvester.transports.ftp import FtpTransport, ftp_path

BOOKS_CSV = b"sku,title\r\n1,Dune\r\n2,Emma\r\n"
BOOKS_XML = b"<books><book sku='1'>Dune</book></books>"
ACCENTED = "donn\u00e9es \u00e9t\u00e9.csv"
ACCENTED_URL = "donn%C3%A9es%20%C3%A9t%C3%A9.csv"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "ftp"
    (root / "feeds" / "2024").mkdir(parents=True)
    (root / "feeds" / "books.csv").write_bytes(BOOKS_CSV)
    (root / "feeds" / "books.xml").write_bytes(BOOKS_XML)
    (root / "feeds" / ACCENTED).write_bytes(b"a,b\n1,2\n")
    (root / "feeds" / "2024" / "jan.csv").write_bytes(b"month\njan\n")
    (root / "big.csv").write_bytes(b"x,y\n" * 5000)
    (root / "home" / "docs").mkdir(parents=True)
    (root / "home" / "readme.txt").write_bytes(b"hello from home")
    (root / "home" / "docs" / "guide.txt").write_bytes(b"guide")
    return root


class BusyHandler(FTPHandler):
    def ftp_RETR(self, file: str) -> None:
        self.respond("450 File busy, try later.")


class NamingHandler(FTPHandler):
    """Names the file it cannot send in its reply, as proftpd does."""

    def ftp_RETR(self, file: str) -> None:
        self.respond(f"550 {Path(file).name}: No such file or directory")


@pytest.fixture
def ftp(tree: Path) -> Iterator[Callable[..., int]]:
    """Starts an FTP server over `tree` (user alice/s3cret, read-only); returns its port."""
    running: list[tuple[FTPServer, threading.Event, threading.Thread]] = []

    def start(
        *,
        anonymous: bool = False,
        legacy: bool = False,
        busy: bool = False,
        slow: bool = False,
        login_dir: str = "/",
        naming: str = "",
    ) -> int:
        authorizer = DummyAuthorizer()
        authorizer.add_user("alice", "s3cret", str(tree), perm="elr")
        if anonymous:
            authorizer.add_anonymous(str(tree))
        attrs: dict[str, object] = {"authorizer": authorizer, "auth_failed_timeout": 0.05}
        if legacy:  # a server without MLSD and SIZE: NLST listings, no size before RETR
            attrs["proto_cmds"] = {
                name: spec for name, spec in FTPHandler.proto_cmds.items() if name not in ("MLSD", "MLST", "SIZE")
            }
        if slow:  # sends 16 KB a second
            attrs["dtp_handler"] = type("SlowDTP", (ThrottledDTPHandler,), {"write_limit": 16384})
        if login_dir != "/":  # as a server without chroot: the session starts in a home directory

            def on_login(self: FTPHandler, username: str) -> None:
                self.fs.cwd = login_dir

            attrs["on_login"] = on_login
        if naming:  # replies name the file, in this encoding of the control connection
            attrs["encoding"] = naming
        base = BusyHandler if busy else NamingHandler if naming else FTPHandler
        handler = type("Handler", (base,), attrs)
        server = FTPServer(("127.0.0.1", 0), handler)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                server.serve_forever(timeout=0.05, blocking=False)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        running.append((server, stop, thread))
        return server.address[1]

    yield start
    for server, stop, thread in running:
        stop.set()
        thread.join(timeout=5)
        server.close_all()


def settings(
    port: int, password: str = "s3cret", max_size: str = "1MB", timeout: float = 5, auth_key: str | None = None
) -> Settings:
    key = auth_key or f"ftp://127.0.0.1:{port}"
    return build(
        {
            "fetch": {"max_size": max_size, "timeout": timeout},
            "auth": {key: {"username": "alice", "password_env": "FTP_PW"}},
        },
        env={"FTP_PW": password},
    )


def fetch(settings: Settings, url: str, method: str = "GET") -> Response:
    async def run() -> Response:
        transport = FtpTransport(settings)
        try:
            return await transport.fetch(Request(url, method=method))
        finally:
            await transport.aclose()

    return asyncio.run(run())


def feeds_children(port: int) -> list[str]:
    base = f"ftp://127.0.0.1:{port}/feeds/"
    return [base + "2024/", base + "books.csv", base + "books.xml", base + ACCENTED_URL]


def test_directory_lists_files_and_subdirectories_as_links(ftp: Callable[..., int]) -> None:
    port = ftp()
    response = fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/")
    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert list(response.links()) == feeds_children(port)


def test_directory_listing_without_mlsd_falls_back_to_nlst(ftp: Callable[..., int]) -> None:
    port = ftp(legacy=True)
    assert list(fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/").links()) == feeds_children(port)


def test_directory_named_without_trailing_slash_lists_its_children(ftp: Callable[..., int]) -> None:
    port = ftp()
    response = fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds")
    assert response.status == 200
    assert list(response.links()) == feeds_children(port)


def test_file_is_retrieved_in_binary_with_type_and_length(ftp: Callable[..., int]) -> None:
    port = ftp()
    response = fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/books.csv")
    assert response.status == 200
    assert response.body == BOOKS_CSV  # CRLF kept: binary, not ASCII mode
    assert response.headers["content-type"] == "text/csv"
    assert response.headers["content-length"] == str(len(BOOKS_CSV))
    xml = fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/books.xml")
    assert xml.body == BOOKS_XML
    assert "xml" in xml.headers["content-type"]


def test_percent_encoded_names_are_decoded(ftp: Callable[..., int]) -> None:
    port = ftp()
    response = fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/{ACCENTED_URL}")
    assert response.status == 200
    assert response.body == b"a,b\n1,2\n"


@pytest.mark.parametrize("legacy", [False, True], ids=["mlsd", "nlst"])
def test_paths_are_relative_to_the_login_directory_as_rfc_1738_says(ftp: Callable[..., int], legacy: bool) -> None:
    port = ftp(login_dir="/home", legacy=legacy)
    base = f"ftp://127.0.0.1:{port}/"
    assert list(fetch(settings(port), base).links()) == [base + "docs/", base + "readme.txt"]
    assert fetch(settings(port), base + "readme.txt").body == b"hello from home"
    assert fetch(settings(port), base + "docs/guide.txt").body == b"guide"
    assert list(fetch(settings(port), base + "docs").links()) == [base + "docs/guide.txt"]
    assert fetch(settings(port), base + "feeds/books.csv").status == 404  # /feeds is not in /home


def test_an_encoded_first_slash_names_an_absolute_path(ftp: Callable[..., int]) -> None:
    port = ftp(login_dir="/home")
    assert fetch(settings(port), f"ftp://127.0.0.1:{port}//feeds/books.csv").body == BOOKS_CSV  # as curl
    base = f"ftp://127.0.0.1:{port}/%2Ffeeds/"
    assert fetch(settings(port), base + "books.csv").body == BOOKS_CSV
    listing = fetch(settings(port), base)
    assert list(listing.links()) == [base + "2024/", base + "books.csv", base + "books.xml", base + ACCENTED_URL]
    assert fetch(settings(port), list(listing.links())[0] + "jan.csv").body == b"month\njan\n"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", ([], "")),
        ("/", ([], "")),
        ("/a.txt", ([], "a.txt")),
        ("/a/b/c.txt", (["a", "b"], "c.txt")),
        ("/a/b/", (["a", "b"], "")),
        ("/%2Fetc/", (["/etc"], "")),
        ("/%2Fetc/passwd", (["/etc"], "passwd")),
        ("//etc/", (["/", "etc"], "")),
        ("/a//b/", (["a", "b"], "")),
        ("/a%2Fb", ([], "a/b")),
        ("/d%C3%A9j%C3%A0/x%20y", (["d\u00e9j\u00e0"], "x y")),
    ],
)
def test_url_path_becomes_cwd_per_segment_then_the_name(path: str, expected: tuple[list[str], str]) -> None:
    assert ftp_path(path) == expected


def test_missing_file_answers_404(ftp: Callable[..., int]) -> None:
    port = ftp()
    assert fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/nope.csv").status == 404
    assert fetch(settings(port), f"ftp://127.0.0.1:{port}/nowhere/").status == 404


@pytest.mark.parametrize(
    ("encoding", "name", "shown"),
    [
        ("utf-8", "caf%C3%A9.csv", "caf\u00e9.csv"),
        ("latin-1", "caf%E9.csv", "caf\ufffd.csv"),  # not UTF-8: shown as U+FFFD, as in listings
    ],
)
def test_an_error_reply_naming_a_file_reads_in_the_charset_it_declares(
    ftp: Callable[..., int], encoding: str, name: str, shown: str
) -> None:
    port = ftp(naming=encoding)
    response = fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/{name}")
    assert response.status == 404
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.body.decode("utf-8") == f"550 {shown}: No such file or directory"
    assert response.text == f"550 {shown}: No such file or directory"


def test_wrong_password_answers_401(ftp: Callable[..., int]) -> None:
    port = ftp()
    response = fetch(settings(port, password="wrong"), f"ftp://127.0.0.1:{port}/feeds/books.csv")
    assert response.status == 401
    assert b"530" in response.body


@pytest.mark.parametrize(
    "key",
    ["127.0.0.1", "ftp://127.0.0.1", "https://127.0.0.1:{port}", "http://127.0.0.1:{port}", "ftp://127.0.0.2:{port}"],
)
def test_auth_applies_only_to_its_exact_origin(ftp: Callable[..., int], key: str) -> None:
    port = ftp()  # no anonymous user: the login without alice's credentials fails
    config = settings(port, auth_key=key.format(port=port))
    response = fetch(config, f"ftp://127.0.0.1:{port}/feeds/books.csv")
    assert response.status == 401


def test_anonymous_login_when_no_auth_is_configured(ftp: Callable[..., int]) -> None:
    port = ftp(anonymous=True)
    response = fetch(build({}), f"ftp://127.0.0.1:{port}/feeds/books.csv")
    assert response.status == 200
    assert response.body == BOOKS_CSV


@pytest.mark.parametrize("legacy", [False, True], ids=["size-known", "counted-while-streaming"])
def test_file_over_max_size_raises_too_large(ftp: Callable[..., int], legacy: bool) -> None:
    port = ftp(legacy=legacy)
    with pytest.raises(TooLarge):
        fetch(settings(port, max_size="1KB"), f"ftp://127.0.0.1:{port}/big.csv")
    small = fetch(settings(port, max_size="1KB"), f"ftp://127.0.0.1:{port}/feeds/books.csv")
    assert small.body == BOOKS_CSV  # the connection per fetch is fresh after an abort


def test_transient_reply_answers_503(ftp: Callable[..., int]) -> None:
    port = ftp(busy=True)
    response = fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/books.csv")
    assert response.status == 503


def test_refused_connection_raises_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError):
        fetch(settings(port), f"ftp://127.0.0.1:{port}/feeds/books.csv")


def test_silent_server_raises_fetch_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(FetchTimeout):
            fetch(settings(port, timeout=0.3), f"ftp://127.0.0.1:{port}/feeds/books.csv")


def test_cancelled_fetch_stops_its_transfer_thread(ftp: Callable[..., int], tree: Path) -> None:
    (tree / "huge.bin").write_bytes(b"\0" * 1_000_000)  # a minute's download at 16 KB/s
    port = ftp(slow=True)

    async def run() -> None:
        transport = FtpTransport(settings(port, max_size="10MB"))
        request = Request(f"ftp://127.0.0.1:{port}/huge.bin")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(transport.fetch(request), 0.5)
        await transport.aclose()

    asyncio.run(run())
    deadline = time.monotonic() + 3
    while any(t.name.startswith("harvester-ftp") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the worker thread kept downloading"
        time.sleep(0.02)
