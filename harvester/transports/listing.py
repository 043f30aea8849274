"""What the ftp and file transports share: directory pages, content types and error replies.

A directory answers with a small HTML page linking each entry (`name`, or
`name/` for a sub-directory) under a `<base href>` naming the directory, so
`response.links()` gives the absolute children whatever URL was asked for.
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from harvester.request import Request
from harvester.response import Response

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}


def listing_page(url: str, entries: Iterable[tuple[str, bool]]) -> bytes:
    """An HTML page for the directory at `url` linking `entries` of (name, is_directory), sorted.

    Names may carry surrogate escapes (undecodable bytes of a file system or
    an FTP server); their links then keep the original bytes.
    """
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    title = html.escape(_readable(unquote(path, errors="surrogateescape")))
    lines = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f'<base href="{html.escape(base)}">',
        f"<title>Index of {title}</title></head>",
        f"<body><h1>Index of {title}</h1><ul>",
    ]
    for name, is_directory in sorted(entries):
        slash = "/" if is_directory else ""
        href = quote(name, safe="", errors="surrogateescape") + slash
        lines.append(f'<li><a href="{href}">{html.escape(_readable(name))}{slash}</a></li>')
    lines.append("</ul></body></html>\n")
    return "\n".join(lines).encode("utf-8")


def guess_type(name: str) -> str:
    """The Content-Type for a file name; compressed files are their compression's type."""
    kind, encoding = mimetypes.guess_type(name, strict=False)
    if encoding:
        return _COMPRESSED.get(encoding, BINARY)
    return kind or BINARY


def error_reply(request: Request, status: int, message: str, **headers: str) -> Response:
    """A response standing for a failure the server or file system reported: `status` (as HTTP's),
    `message` as a UTF-8 text body (undecodable bytes of a name shown as U+FFFD), `headers` added."""
    body = _readable(message).encode("utf-8")
    fields = {"Content-Type": TEXT, "Content-Length": str(len(body))}
    return Response(request.url, status, httpx.Headers(fields | headers), body, request)


def _readable(text: str) -> str:
    """`text` with undecodable bytes shown as U+FFFD, safe to encode as UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
