"""The file:// transport: local files and directories, read in worker threads.

A file is read in chunks in a worker thread and refused past `max_size` as
the bytes arrive; for a streamed request (`request.stream`) the chunks are
handed over as they are read instead (`harvester.transports.threaded`),
bounded by `feed_max_size` when it is set. A directory (a URL ending in `/`, or a path that is one)
answers with the same HTML listing as an FTP directory. A missing path
answers 404 and an unreadable one 403, as a web server would. Whether a
file:// URL may be fetched at all (only when the operator gave it) is the
scheduler's rule, not this module's.
"""

from __future__ import annotations

import asyncio
import os
import threading
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
from harvester.transports.listing import HTML, guess_type, listing_page
from harvester.transports.threaded import ThreadedStream

_CHUNK = 64 * 1024
_STREAM_CHUNK = 256 * 1024


class FileTransport:
    def __init__(self, settings: Settings) -> None:
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
            return _reply(request, 405, f"{request.method} is not a file method", Allow="GET, HEAD")
        parts = urlsplit(request.url)
        if parts.netloc not in ("", "localhost"):
            raise Forbidden(f"file:// URL names another host: {parts.netloc}", request)
        path = unquote(parts.path, errors="surrogateescape")
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
            if "\0" in path:
                raise FileNotFoundError(path)
            if path.endswith("/") or os.path.isdir(path):
                return self._directory(request, path)
            return self._file(request, path, cancelled)
        except (FileNotFoundError, NotADirectoryError):
            return _reply(request, 404, "no such file or directory")
        except PermissionError:
            return _reply(request, 403, "permission denied")
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}", request) from exc

    def _file(self, request: Request, path: str, cancelled: threading.Event) -> Response | _OpenFile:
        if request.stream and request.method == "GET":
            return self._open(request, path)
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if info.st_size > self.max_size:
                raise TooLarge(f"file of {info.st_size} bytes is over max_size {self.max_size}",
                               request)
            chunks = []
            total = 0
            while request.method == "GET" and (chunk := fh.read(_CHUNK)):
                if cancelled.is_set():
                    raise FetchError("file read cancelled", request)
                total += len(chunk)
                if total > self.max_size:  # the file grew, or is a device without a size
                    raise TooLarge(f"file is over max_size {self.max_size}", request)
                chunks.append(chunk)
        headers = _headers(path, info, total if request.method == "GET" else info.st_size)
        return Response(url=request.url, status=200, headers=headers, body=b"".join(chunks),
                        request=request)

    def _open(self, request: Request, path: str) -> _OpenFile:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the stream that reads it
        try:
            info = os.fstat(fh.fileno())
            if self.feed_max_size and info.st_size > self.feed_max_size:
                raise TooLarge(f"file of {info.st_size} bytes is over feed_max_size {self.feed_max_size}",
                               request)
        except BaseException:
            fh.close()
            raise
        return _OpenFile(request, fh, _headers(path, info, info.st_size))

    def _directory(self, request: Request, path: str) -> Response:
        with os.scandir(path) as scan:
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


def _headers(path: str, info: os.stat_result, size: int) -> httpx.Headers:
    return httpx.Headers({
        "Content-Type": guess_type(os.path.basename(path)),
        "Content-Length": str(size),
        "Last-Modified": formatdate(info.st_mtime, usegmt=True),
    })


def _reply(request: Request, status: int, message: str, **extra: str) -> Response:
    body = message.encode()
    headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}
    return Response(request.url, status, httpx.Headers(headers | extra), body, request)
