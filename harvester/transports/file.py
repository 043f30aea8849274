"""The file:// transport: local files and directories, read in worker threads.

A file is read in chunks in a worker thread and refused past `max_size` as
the bytes arrive; for a streamed request (`request.stream`) the chunks are
handed over as they are read instead (`harvester.transports.threaded`),
bounded by `feed_max_size` when it is set. A directory (a URL ending in `/`, or a path that is one)
answers with the same HTML listing as an FTP directory. A missing path
answers 404 and an unreadable one 403, as a web server would.

Confinement: a file:// URL is fetched only when the operator gave it, or when
it was found in a file:// document and lies inside a tree the operator gave
(`FileRoots`). Paths are compared as the kernel opens them: percent-decoded,
then resolved to real paths (`..` and symlinks followed), never as URL text,
so `%2e%2e/`, `..%2f` and a symlink leading out all stay outside. The
scheduler asks `FileRoots.admits` before queueing a found URL, and this
transport checks again what it actually opened (the real path of the open
descriptor) before reading a byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import httpx

from harvester.config import Settings
from harvester.exceptions import FetchError, Forbidden, TooLarge
from harvester.request import Request
from harvester.response import Response
from harvester.schemes import Follow, Scheme
from harvester.transports.listing import HTML, error_reply, guess_type, listing_page
from harvester.transports.threaded import ThreadedStream

_CHUNK = 64 * 1024
_STREAM_CHUNK = 256 * 1024


class FileRoots:
    """The trees (and single files) the operator gave as file:// URLs, as real paths.

    A URL naming a directory gives that directory's tree; a URL naming a file
    gives the tree of its directory, and the file itself wherever it leads.
    `urls` are the URLs given, to keep with the run.
    """

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self.urls: list[str] = []
        self._trees: set[str] = set()
        self._files: set[str] = set()
        for url in urls:
            self.add(url)

    def add(self, url: str) -> None:
        """Trust the tree of a file:// URL the operator gave (other URLs are ignored)."""
        if not isinstance(url, str) or url.partition(":")[0].lower() != "file" or url in self.urls:
            return
        try:
            path = local_path(url)
        except ValueError:
            return  # another host or a NUL: the transport refuses it anyway
        self.urls.append(url)
        real = os.path.realpath(path)
        if path.endswith("/") or os.path.isdir(real):
            self._trees.add(real)
        else:
            self._trees.add(os.path.realpath(os.path.dirname(path) or "/"))
            self._files.add(real)

    def admits(self, url: str) -> bool:
        """Whether a file:// URL found in a document resolves inside the operator's trees."""
        try:
            return self.contains(os.path.realpath(local_path(url)))
        except ValueError:
            return False

    def contains(self, real: str) -> bool:
        """Whether a real (resolved) path is one of the files or inside one of the trees."""
        if real in self._files:
            return True
        return any(real == tree or real.startswith(tree.rstrip("/") + "/") for tree in self._trees)


def local_path(url: str) -> str:
    """The local path a file:// URL names, percent-decoded; ValueError for another host or a NUL."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"file:// URL names another host: {parts.netloc}")
    path = unquote(parts.path, errors="surrogateescape")
    if "\0" in path:
        raise ValueError("NUL in a file:// path")
    return path


class FileTransport:
    """file:// URLs: local files and directories, confined to the trees the operator gave."""

    # No host; links followed from file:// pages only, and admitted only under the operator's roots
    # (never from a fetched document of another scheme); never a redirect target.
    schemes = (Scheme("file", has_host=False, follow=Follow.OWN_SCHEME, confined=True),)

    def __init__(self, settings: Settings, roots: FileRoots | None = None) -> None:
        self.roots = roots  # None: every path the operator asks for (no crawl: `harvester fetch`)
        self.max_size = int(settings.fetch.max_size)
        self.feed_max_size = int(settings.fetch.feed_max_size)
        self._pool = ThreadPoolExecutor(
            max_workers=min(settings.fetch.concurrency, 16), thread_name_prefix="harvester-file"
        )
        self._closed = False

    async def fetch(self, request: Request) -> Response:
        if self._closed:
            raise FetchError("the file transport is closed", request)
        if request.method not in ("GET", "HEAD"):
            return error_reply(request, 405, f"{request.method} is not a file method", Allow="GET, HEAD")
        try:
            path = local_path(request.url)
        except ValueError as exc:
            raise Forbidden(str(exc), request) from None
        cancelled = threading.Event()
        try:
            response = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._read, request, path, cancelled
            )
        except asyncio.CancelledError:
            cancelled.set()  # the worker thread stops at its next chunk
            raise
        if isinstance(response, _OpenFile):
            return self._streamed(response)
        return response

    def _streamed(self, opened: _OpenFile) -> Response:
        """A response whose body is read in a worker thread while the spider consumes it."""
        request, fh, limit = opened.request, opened.fh, self.feed_max_size
        total = 0

        def read() -> bytes:
            nonlocal total
            try:
                chunk = fh.read(_STREAM_CHUNK)
            except OSError as exc:
                raise FetchError(f"cannot read {fh.name}: {exc.strerror or exc}", request) from exc
            total += len(chunk)
            if limit and total > limit:
                raise TooLarge(f"file is over feed_max_size {limit}", request)
            return chunk

        body = ThreadedStream(self._pool, read, finish=fh.close)
        response = Response(url=request.url, status=200, headers=opened.headers, request=request)
        response.stream, response.streamed, response._close = body.chunks(), True, body.aclose
        return response

    def _read(self, request: Request, path: str, cancelled: threading.Event) -> Response | _OpenFile:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO must not block
        except (FileNotFoundError, NotADirectoryError):
            return error_reply(request, 404, "no such file or directory")
        except PermissionError:
            return error_reply(request, 403, "permission denied")
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}", request) from exc
        owned = True
        try:
            real = _real_path(fd, path)
            if self.roots is not None and not self.roots.contains(real):
                raise Forbidden(f"{real} is outside the file:// trees the operator gave", request)
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                return self._directory(request, fd)
            if path.endswith("/"):
                return error_reply(request, 404, "not a directory")
            if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):  # a read could wait forever
                return error_reply(request, 403, "not a regular file")
            os.set_blocking(fd, True)
            fh = os.fdopen(fd, "rb")
            owned = False  # closed with `fh`
            with contextlib.ExitStack() as stack:
                stack.callback(fh.close)
                result = self._file(_OpenFile(request, fh, _headers(path, info, info.st_size)), cancelled)
                if isinstance(result, _OpenFile):
                    stack.pop_all()  # the stream closes it
                return result
        except PermissionError:
            return error_reply(request, 403, "permission denied")
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}", request) from exc
        finally:
            if owned:
                os.close(fd)

    def _file(self, opened: _OpenFile, cancelled: threading.Event) -> Response | _OpenFile:
        request, fh, size = opened.request, opened.fh, int(opened.headers["content-length"])
        if request.stream and request.method == "GET":
            if self.feed_max_size and size > self.feed_max_size:
                raise TooLarge(f"file of {size} bytes is over feed_max_size {self.feed_max_size}", request)
            return opened
        if size > self.max_size:
            raise TooLarge(f"file of {size} bytes is over max_size {self.max_size}", request)
        chunks = []
        total = 0
        while request.method == "GET" and (chunk := fh.read(_CHUNK)):
            if cancelled.is_set():
                raise FetchError("file read cancelled", request)
            total += len(chunk)
            if total > self.max_size:  # the file grew, or is a device without a size
                raise TooLarge(f"file is over max_size {self.max_size}", request)
            chunks.append(chunk)
        headers = opened.headers
        if request.method == "GET":
            headers["Content-Length"] = str(total)
        return Response(url=request.url, status=200, headers=headers, body=b"".join(chunks), request=request)

    def _directory(self, request: Request, fd: int) -> Response:
        with os.scandir(fd) as scan:
            entries = [(entry.name, entry.is_dir()) for entry in scan]
        page = listing_page(request.url, entries)
        if len(page) > self.max_size:
            raise TooLarge(f"directory listing is over max_size {self.max_size}", request)
        headers = httpx.Headers({"Content-Type": HTML, "Content-Length": str(len(page))})
        body = page if request.method == "GET" else b""
        return Response(url=request.url, status=200, headers=headers, body=body, request=request)

    async def aclose(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False)


@dataclass
class _OpenFile:
    """A regular file opened for a streamed request, handed from the worker thread."""

    request: Request
    fh: BinaryIO
    headers: httpx.Headers


def _real_path(fd: int, path: str) -> str:
    """The real path of what `fd` has open: what the kernel opened, not what a path string says."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc (not Linux): resolve the path the same way the kernel did
        return os.path.realpath(path)


def _headers(path: str, info: os.stat_result, size: int) -> httpx.Headers:
    return httpx.Headers(
        {
            "Content-Type": guess_type(os.path.basename(path)),
            "Content-Length": str(size),
            "Last-Modified": formatdate(info.st_mtime, usegmt=True),
        }
    )
