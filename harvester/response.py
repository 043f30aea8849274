"""Responses: what a transport hands to the spider callback.

The body is bytes; text, the lxml tree behind `css()`/`xpath()`/`links()` and
the BeautifulSoup tree behind `soup` are built on first use only, so a
callback that never asks for BeautifulSoup never pays for it.
"""

from __future__ import annotations

import codecs
import json
import posixpath
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from harvester import charsets
from harvester.request import Request
from harvester.selector import Selector, SelectorList

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

_LINKS = "//a/@href | //area/@href"
_BASE_TAG = re.compile(rb"<base[\s/>]", re.IGNORECASE)
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~-][A-Za-z0-9_./~-]*$")  # a relative path, nothing else
_NON_HTML = ("json", "xml", "csv", "javascript", "image/", "audio/", "video/", "octet-stream")


@dataclass(eq=False)
class Response:
    url: str
    status: int
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    request: Request | None = None
    from_cache: bool = False
    redirects: tuple[str, ...] = ()  # URLs passed through before `url`, oldest first
    stream: AsyncIterator[bytes] | None = field(default=None, repr=False)  # a streamed body, read once
    streamed: bool = False  # true when the body came (or comes) through `stream`, not `body`
    _close: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)
    received: int = 0  # bytes of a streamed body read so far
    truncated: str | None = None  # why a compressed body ended early; `body` holds its readable part
    _encoding: str | None = field(default=None, repr=False)
    _text: str | None = field(default=None, repr=False)
    _selector: Selector | None = field(default=None, repr=False)
    _soup: BeautifulSoup | None = field(default=None, repr=False)
    _base_url: str | None = field(default=None, repr=False)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives (decoded, capped): the stream of a streamed response, else `body`."""
        if self.stream is None:
            if self.body:
                yield self.body
            return
        stream, self.stream = self.stream, None  # read once
        try:
            async for chunk in stream:
                self.received += len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the connection or file behind a streamed body (safe to call twice)."""
        close, self._close = self._close, None
        if close is not None:
            await close()

    @property
    def meta(self) -> dict[str, Any]:
        return self.request.meta if self.request is not None else {}

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def encoding(self) -> str:
        if self._encoding is None:
            self._encoding = charsets.html_encoding(self.headers.get("content-type", ""), self.body)
        return self._encoding

    @property
    def text(self) -> str:
        if self._text is None:
            marked = charsets.bom(self.body)
            same = marked is not None and codecs.lookup(marked[0]).name == codecs.lookup(self.encoding).name
            body = self.body[marked[1]:] if same else self.body  # type: ignore[index]
            self._text = body.decode(self.encoding, errors="replace")
        return self._text

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def selector(self) -> Selector:
        if self._selector is None:
            if "xml" in self.content_type and "html" not in self.content_type:
                body = charsets.xml_as_utf8(self.body, self.headers.get("content-type", ""))
                self._selector = Selector.from_xml(body)  # decoded by our labels, not libxml2's
            else:
                self._selector = Selector.from_html(self.body, self.encoding, base_url=self.url)
        return self._selector

    def css(self, query: str) -> SelectorList:
        return self.selector.css(query)

    def xpath(self, query: str, **kwargs: Any) -> SelectorList:
        return self.selector.xpath(query, **kwargs)

    @property
    def soup(self) -> BeautifulSoup:
        if self._soup is None:
            from bs4 import BeautifulSoup

            self._soup = BeautifulSoup(self.body, "lxml", from_encoding=self.encoding)
        return self._soup

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            wide = codecs.lookup(self.encoding).name.startswith(("utf-16", "utf-32"))  # "<base" not in ASCII bytes
            has_base = self.is_html and (wide or _BASE_TAG.search(self.body) is not None)  # a scan, not a tree search
            base = self.selector.root.xpath("//base/@href") if has_base else []
            self._base_url = urljoin(self.url, str(base[0]).strip()) if base else self.url
        return self._base_url

    @property
    def is_html(self) -> bool:
        kind = self.content_type
        return not kind or "html" in kind or not any(marker in kind for marker in _NON_HTML)

    def urljoin(self, url: str) -> str:
        return urljoin(self.base_url, url)

    def links(self) -> list[str]:
        """The page's links: absolute, without fragments, once each, in page order.

        Only http(s) links, plus links of the response's own scheme (the
        entries of an ftp:// or file:// directory listing).
        """
        if not self.is_html or not self.body:
            return []
        own = urlsplit(self.url).scheme
        schemes = {"http", "https", own}
        base = self.base_url
        root = base[: base.find("/", base.find("//") + 2)] if base.count("/") >= 3 else base
        parts = urlsplit(base)
        here = parts.path.rsplit("/", 1)[0] + "/" if parts.path.startswith("/") and not parts.query else ""
        seen: dict[str, None] = {}
        for href in self.selector.root.xpath(_LINKS):
            href = str(href).strip()
            if not href or href[0] == "#":
                continue
            if href[0] == "/" and href[1:2] != "/" and "/." not in href and "\\" not in href:
                url = root + href  # root-relative, nothing to resolve: the common case, made cheap
            elif _PLAIN_PATH.match(href) and here:
                url = root + _join_path(here, href)  # a relative path such as ../2/7.html
            else:
                try:
                    parts = urlsplit(urljoin(base, href))
                except ValueError:
                    continue
                if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "file"):
                    continue
                url = urlunsplit(parts)
            seen.setdefault(url.split("#", 1)[0])
        return list(seen)

    def follow(self, url: str | Selector, callback: Any = None, **kwargs: Any) -> Request:
        """A request for `url` (relative to this page, or an `<a>` selector)."""
        if isinstance(url, Selector):
            url = url.attrib.get("href") or url.get() or ""
        url = str(url)
        if not url.startswith(("http://", "https://")):  # links() gives absolute URLs: no join needed
            url = self.urljoin(url)
        return Request(url, callback=callback, **kwargs)

    def follow_all(self, urls: Any = None, callback: Any = None, **kwargs: Any) -> list[Request]:
        targets = self.links() if urls is None else urls
        return [self.follow(u, callback=callback, **kwargs) for u in targets]

    def __repr__(self) -> str:
        return f"<{self.status} {self.url}>"


def _join_path(directory: str, relative: str) -> str:
    """`relative` resolved against `directory` (ends with /), dot segments removed, as urljoin does."""
    joined = posixpath.normpath(directory + relative)
    if relative.endswith(("/", "/.", "/..")) or relative in (".", ".."):
        joined = joined.rstrip("/") + "/"
    return joined if not joined.startswith("//") else "/" + joined.lstrip("/")
