"""The data: transport (RFC 2397): the body is in the URL, `data:[<mediatype>][;base64],<data>`.

Read as the Fetch Standard's data: URL processor does (what browsers do): the
media type before the comma, `text/plain;charset=US-ASCII` when it is empty
or malformed (`;charset=...` alone keeps `text/plain`); the data
percent-decoded, then base64-decoded when the media type ends in `;base64`
(whitespace ignored, padding optional). The response is a 200 with that
`Content-Type` and body, refused past `max_size` as any body is. A URL
without a comma, or whose base64 does not decode, answers 400, as a server
answers a request it cannot read (the FTP and file transports do the same).

Policy: a data: URL has no host and no robots.txt; it is fetched when a
spider or the operator asks for it (a start URL, `Request("data:...")`,
`response.follow("data:...")`), as Scrapy's data: handler does, but a
`data:` link on a page is not followed by `links()` or `LinkExtractor` (it
is an inline resource, not a page to crawl), and a redirect never leads to
one (as browsers refuse it).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes

import httpx

from harvester.config import Settings
from harvester.exceptions import TooLarge
from harvester.request import Request
from harvester.response import Response
from harvester.schemes import Follow, Scheme

DEFAULT_TYPE = "text/plain;charset=US-ASCII"
_BASE64 = re.compile(r";[ ]*base64$", re.IGNORECASE)
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*;.*)?", re.DOTALL)
_WHITESPACE = b" \t\n\x0c\r"
_ALPHABET = re.compile(rb"[A-Za-z0-9+/]*")


class DataTransport:
    """data: URLs, answered from the URL itself; nothing is read from anywhere."""

    schemes = (Scheme("data", has_host=False, follow=Follow.NEVER),)

    def __init__(self, settings: Settings) -> None:
        self.max_size = int(settings.fetch.max_size)

    async def fetch(self, request: Request) -> Response:
        """The body and media type the URL holds; 400 when it holds none."""
        read = parse_data_url(request.url)
        if read is None:
            body = b"malformed data: URL (RFC 2397: data:[<mediatype>][;base64],<data>)\n"
            headers = httpx.Headers({"Content-Type": "text/plain; charset=utf-8"})
            return Response(request.url, 400, headers, body, request)
        media_type, body = read
        if len(body) > self.max_size:
            raise TooLarge(f"data: URL of {len(body)} bytes is over max_size {self.max_size}", request)
        headers = httpx.Headers({"Content-Type": media_type, "Content-Length": str(len(body))})
        return Response(request.url, 200, headers, b"" if request.method == "HEAD" else body, request)

    async def aclose(self) -> None:
        """Nothing to release."""


def parse_data_url(url: str) -> tuple[str, bytes] | None:
    """(media type, body) of a data: URL, or None when it has no comma or its base64 is broken."""
    rest = url.partition(":")[2].split("#", 1)[0]  # the fragment is not data
    media_type, comma, encoded = rest.partition(",")
    if not comma:
        return None
    media_type = media_type.strip(" \t\n\x0c\r")
    body = unquote_to_bytes(encoded)
    match = _BASE64.search(media_type)
    if match is not None:
        media_type = media_type[: match.start()].rstrip(" ")
        decoded = _forgiving_base64(body)
        if decoded is None:
            return None
        body = decoded
    if media_type.startswith(";"):
        media_type = "text/plain" + media_type
    if not _MEDIA_TYPE.fullmatch(media_type):
        media_type = DEFAULT_TYPE
    return media_type, body


def _forgiving_base64(data: bytes) -> bytes | None:
    """The Infra Standard's forgiving-base64 decode: whitespace dropped, padding optional."""
    data = data.translate(None, _WHITESPACE)
    if len(data) % 4 == 0 and data.endswith(b"="):
        data = data[:-2] if data.endswith(b"==") else data[:-1]
    if len(data) % 4 == 1 or not _ALPHABET.fullmatch(data):
        return None
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        return None
