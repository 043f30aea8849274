"""The ftp:// transport: stdlib ftplib in worker threads, answering in HTTP's vocabulary.

Each fetch opens its own control connection in a worker thread (passive mode,
binary transfers, `fetch.timeout` per connect and read), logs in with the
credentials of the URL's origin (`harvester.credentials`) or else as
anonymous, then retrieves the file, counting bytes against `max_size` as they
arrive, or lists the directory (a URL ending in `/`) as an HTML page.

The path is read as RFC 1738 (section 3.2.2) says, and as curl and urllib
read it: relative to the login directory, each segment but the last one CWD
in turn, the last one the file to retrieve (or nothing: a directory).
`ftp://host/a.txt` is `a.txt` in the login directory; `ftp://host/%2Fetc/`
is the absolute `/etc/` (the encoded slash belongs to the segment), and so is
`ftp://host//etc/` (an empty first segment is the root, as curl has it).

FTP replies become HTTP-like statuses, so a spider learns one vocabulary:

    2yz success                                   200
    530, 532 not logged in                        401
    550, 551, 553 no such file, no permission     404
    501 syntax error in arguments                 400
    500, 502, 504 command not understood          501
    other 5yz permanent refusals                  403
    4yz transient (421, 425, 426, 450, 451, 452)  503

A lost or refused connection raises `NetworkError`, a stalled one
`FetchTimeout`, a file over `max_size` `TooLarge`.

For a streamed request (`request.stream`) the answer comes as soon as the
transfer starts: the worker thread then reads the data connection chunk by
chunk into a small queue the spider drains (`harvester.transports.threaded`),
bounded by `feed_max_size` when it is set, and checks the server's final
reply before the end of the body is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import posixpath
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlsplit

import httpx

from harvester.config import Settings
from harvester.credentials import Credentials
from harvester.exceptions import FetchError, FetchTimeout, NetworkError, TooLarge
from harvester.request import Request
from harvester.response import Response
from harvester.schemes import Follow, Scheme
from harvester.transports.listing import HTML, error_reply, guess_type, listing_page
from harvester.transports.threaded import ThreadedStream

_STATUS = {530: 401, 532: 401, 550: 404, 551: 404, 553: 404, 501: 400, 500: 501, 502: 501, 504: 501}
_UNSUPPORTED = {500, 502, 504}  # command not understood or not implemented
_CHUNK = 64 * 1024


class FtpTransport:
    """ftp:// URLs: files read in worker threads, directories as listings; FTP replies as HTTP statuses."""

    # Links to ftp:// are followed from ftp:// pages only (a listing's entries); its hosts are
    # hosts for allowed_domains; no robots.txt; never a redirect target.
    schemes = (Scheme("ftp", 21, follow=Follow.OWN_SCHEME),)

    def __init__(self, settings: Settings, credentials: Credentials | None = None) -> None:
        self.credentials = credentials or Credentials(settings)
        self.timeout = settings.fetch.timeout
        self.max_size = int(settings.fetch.max_size)
        self.feed_max_size = int(settings.fetch.feed_max_size)
        self._pool = ThreadPoolExecutor(
            max_workers=min(settings.fetch.concurrency, 64), thread_name_prefix="harvester-ftp"
        )
        self._sessions: set[_Session] = set()
        self._closed = False

    async def fetch(self, request: Request) -> Response:
        if self._closed:
            raise NetworkError("the ftp transport is closed", request)
        if request.method not in ("GET", "HEAD"):
            return error_reply(request, 405, f"{request.method} is not an FTP method", Allow="GET, HEAD")
        parts = urlsplit(request.url)
        try:
            address = (parts.hostname or "", parts.port or 21)
        except ValueError:
            raise FetchError(f"bad port in {request.url}", request) from None
        directories, name = ftp_path(parts.path)
        if any(char in part for part in (*directories, name) for char in "\r\n\0"):
            raise FetchError("control character in FTP path", request)
        user, password = self._login(request)
        session = _Session(
            request, address, directories, name, user, password, self.timeout, self.max_size, self.feed_max_size
        )
        self._sessions.add(session)
        try:
            response = await asyncio.get_running_loop().run_in_executor(self._pool, session.run)
        except asyncio.CancelledError:
            session.interrupt()  # the worker thread stops at once instead of downloading on
            if session.streaming:  # the transfer had started: nobody will read it
                session.close()
            self._sessions.discard(session)
            raise
        except BaseException:
            self._sessions.discard(session)
            raise
        if not session.streaming:
            self._sessions.discard(session)
        if session.streaming:

            def finish() -> None:
                session.close()
                self._sessions.discard(session)

            body = ThreadedStream(self._pool, session.read, finish, session.interrupt)
            response.stream, response.streamed, response._close = body.chunks(), True, body.aclose
        return response

    def _login(self, request: Request) -> tuple[str, str]:
        """(user, password) for the request's origin (`ftp://host[:port]`), else anonymous."""
        login = self.credentials.for_request(request)
        if login is None or not login.username:
            return "anonymous", ""  # ftplib sends "anonymous@" as the password
        return login.username, login.password

    async def aclose(self) -> None:
        self._closed = True
        for session in list(self._sessions):
            session.interrupt()
        self._pool.shutdown(wait=False)


class _Session:
    """One fetch on its own control connection, run in a worker thread."""

    def __init__(
        self,
        request: Request,
        address: tuple[str, int],
        directories: list[str],
        name: str,
        user: str,
        password: str,
        timeout: float,
        max_size: int,
        feed_max_size: int = 0,
    ) -> None:
        self.request = request
        self.address = address
        self.directories = directories
        self.name = name
        self.user = user
        self.password = password
        self.max_size = max_size
        # latin-1 maps bytes to characters one to one, so names travel byte for byte
        # (see _wire and _name) whatever encoding the server uses.
        self.ftp = ftplib.FTP(timeout=timeout, encoding="latin-1")
        # ftplib's default, kept on purpose: ignore the address in a PASV reply and open
        # the data connection to the control connection's peer, so a server cannot aim
        # the crawler at another host (FTP bounce, scanning the crawler's network).
        self.ftp.trust_server_pasv_ipv4_address = False  # type: ignore[attr-defined]  # not in typeshed
        self.data: socket.socket | None = None
        self.interrupted = False
        self.feed_max_size = feed_max_size
        self.streaming = False  # a transfer left open for `read()`
        self.received = 0

    def run(self) -> Response:
        request = self.request
        try:
            self._check()
            self.ftp.connect(*self.address)
            self._check()
            self.ftp.login(self.user, self.password)
            for directory in self.directories:
                self._check()
                self.ftp.cwd(_wire(directory))
            if not self.name:
                return self._directory()
            return self._file(self.name)
        except ftplib.error_perm as exc:
            return _reply(request, _STATUS.get(_code(exc), 403), str(exc))
        except ftplib.error_temp as exc:
            return _reply(request, 503, str(exc))
        except TimeoutError:
            raise FetchTimeout(f"FTP server silent for {self.ftp.timeout:g} s", request) from None
        except (OSError, EOFError, ftplib.Error) as exc:
            raise self._lost(exc) from exc
        finally:
            if not self.streaming:
                self.close()

    def read(self) -> bytes:
        """The next chunk of a streamed transfer; b"" once the server confirmed its end."""
        assert self.data is not None
        try:
            chunk = self.data.recv(_CHUNK)
            if chunk:
                self.received += len(chunk)
                if self.feed_max_size and self.received > self.feed_max_size:
                    raise TooLarge(f"FTP transfer is over feed_max_size {self.feed_max_size} bytes", self.request)
                return chunk
            self._check()
            self.data.close()
            self.data = None
            self.ftp.voidresp()
            return b""
        except TimeoutError:
            raise FetchTimeout(f"FTP server silent for {self.ftp.timeout:g} s", self.request) from None
        except (OSError, EOFError, ftplib.Error) as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: BaseException) -> NetworkError:
        if self.interrupted:
            return NetworkError("FTP fetch interrupted", self.request)
        return NetworkError(f"{type(exc).__name__}: {str(exc) or 'connection lost'}", self.request)

    def _file(self, path: str) -> Response:
        self.ftp.voidcmd("TYPE I")
        size = self._size(path)
        if self.request.stream and self.request.method == "GET":
            return self._open(path, size)
        if size is not None and size > self.max_size:
            raise self._too_large(f"FTP file of {size} bytes")
        if self.request.method == "HEAD" and size is not None:
            body = b""
        else:
            try:
                body = self._transfer(f"RETR {_wire(path)}")
            except ftplib.error_perm as exc:
                if _code(exc) == 550 and self._enter(path):
                    return self._directory()
                raise
            size = len(body)
            if self.request.method == "HEAD":
                body = b""
        headers = httpx.Headers({"Content-Type": guess_type(posixpath.basename(path)), "Content-Length": str(size)})
        return Response(self.request.url, 200, headers, body, self.request)

    def _open(self, path: str, size: int | None) -> Response:
        """Start the transfer of a streamed request; the body is left to `read()`."""
        limit = self.feed_max_size
        if limit and size is not None and size > limit:
            raise TooLarge(f"FTP file of {size} bytes is over feed_max_size {limit} bytes", self.request)
        self._check()
        try:
            self.data, _ = self.ftp.ntransfercmd(f"RETR {_wire(path)}")
        except ftplib.error_perm as exc:
            if _code(exc) == 550 and self._enter(path):
                return self._directory()
            raise
        self._check()
        self.streaming = True
        headers = {"Content-Type": guess_type(posixpath.basename(path))}
        if size is not None:
            headers["Content-Length"] = str(size)
        return Response(self.request.url, 200, httpx.Headers(headers), b"", self.request)

    def _directory(self) -> Response:
        """The listing of the current directory (the one the URL names, entered by CWD)."""
        try:
            entries = self._mlsd()
        except ftplib.error_perm as exc:
            if _code(exc) == 501:  # RFC 3659: MLSD of a path that is not a directory
                return _reply(self.request, 404, str(exc))
            if _code(exc) not in _UNSUPPORTED:
                raise
            entries = self._nlst()
        page = listing_page(self.request.url, entries)
        if len(page) > self.max_size:
            raise self._too_large("directory listing")
        headers = httpx.Headers({"Content-Type": HTML, "Content-Length": str(len(page))})
        body = b"" if self.request.method == "HEAD" else page
        return Response(self.request.url, 200, headers, body, self.request)

    def _mlsd(self) -> list[tuple[str, bool]]:
        """Entries of the current directory from MLSD: `type=dir` marks a sub-directory."""
        entries = []
        for line in self._transfer("MLSD").splitlines():
            facts, _, name = line.partition(b" ")
            kind = b"file"
            for fact in facts.split(b";"):
                key, _, value = fact.partition(b"=")
                if key.strip().lower() == b"type":
                    kind = value.strip().lower()
            if name and kind not in (b"cdir", b"pdir") and name not in (b".", b".."):
                entries.append((_name(name), kind == b"dir"))
        return entries

    def _nlst(self) -> list[tuple[str, bool]]:
        """Entries of the current directory for servers without MLSD: NLST, then CWD tells directories."""
        here = self.ftp.pwd()
        try:
            raw = self._transfer("NLST")
        except (ftplib.error_perm, ftplib.error_temp) as exc:
            if _code(exc) not in (450, 550):
                raise
            raw = b""  # how some servers answer for an empty directory
        entries = []
        for line in raw.splitlines():
            name = _name(posixpath.basename(line.rstrip(b"/")))
            if name and name not in (".", ".."):
                is_directory = self._enter(name)
                if is_directory:
                    self.ftp.cwd(here)  # back: `here` is already in the wire's latin-1
                entries.append((name, is_directory))
        return entries

    def _enter(self, name: str) -> bool:
        """CWD into `name` if it is a directory; False (and no move) if not."""
        self._check()
        try:
            self.ftp.cwd(_wire(name))
        except ftplib.error_perm:
            return False
        return True

    def _size(self, path: str) -> int | None:
        """The file's size from SIZE, or None when the server will not tell."""
        try:
            return self.ftp.size(_wire(path))
        except (ftplib.error_perm, ftplib.error_temp, ftplib.error_reply, ValueError):
            return None

    def _transfer(self, command: str) -> bytes:
        """The bytes of one data transfer, refused past `max_size` as they arrive."""
        self._check()
        conn, expected = self.ftp.ntransfercmd(command)
        self.data = conn
        chunks = []
        total = 0
        with conn:
            if expected is not None and expected > self.max_size:
                raise self._too_large(f"FTP file of {expected} bytes")
            while chunk := conn.recv(_CHUNK):
                total += len(chunk)
                if total > self.max_size:
                    raise self._too_large("FTP transfer")
                chunks.append(chunk)
        self.data = None
        self._check()
        self.ftp.voidresp()
        return b"".join(chunks)

    def _too_large(self, what: str) -> TooLarge:
        return TooLarge(f"{what} is over max_size {self.max_size} bytes", self.request)

    def _check(self) -> None:
        if self.interrupted:
            raise NetworkError("FTP fetch interrupted", self.request)

    def interrupt(self) -> None:
        """From another thread: make any blocked read in the worker return at once."""
        self.interrupted = True
        for sock in (self.data, self.ftp.sock):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self.data is not None:
            self.data.close()
        if self.ftp.sock is not None and not self.interrupted:
            with contextlib.suppress(OSError):
                self.ftp.putcmd("QUIT")  # polite, without waiting for the reply
        self.ftp.close()


def _reply(request: Request, status: int, wire_text: str) -> Response:
    """A response standing for an FTP failure reply: its text, as read from the latin-1 control
    connection, is the server's bytes, read as UTF-8 as names are (`_name`)."""
    return error_reply(request, status, _name(wire_text.encode("latin-1")))


def _code(exc: ftplib.Error) -> int:
    text = str(exc)[:3]
    return int(text) if text.isdigit() else 0


def ftp_path(path: str) -> tuple[list[str], str]:
    """(directories to CWD into in turn, name to retrieve) of an ftp:// URL's raw path.

    RFC 1738 section 3.2.2: segments are percent-decoded one by one, so `%2F`
    stays inside its segment (`/%2Fetc/` is CWD `/etc`). Empty segments are
    skipped (CWD needs an argument), but an empty first one (`//etc/`) is the
    root, as curl reads it. The name is "" when the URL names a directory.
    """
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    if not segments:
        return [], ""
    *directories, name = segments
    entered = ["/"] if directories and not directories[0] else []
    entered += [unquote(segment, errors="surrogateescape") for segment in directories if segment]
    return entered, unquote(name, errors="surrogateescape")


def _wire(path: str) -> str:
    """A path as sent over the latin-1 control connection: its UTF-8 bytes (or original bytes)."""
    return path.encode("utf-8", "surrogateescape").decode("latin-1")


def _name(raw: bytes) -> str:
    """A name read from a listing: UTF-8, undecodable bytes kept as surrogate escapes."""
    return raw.decode("utf-8", "surrogateescape")
