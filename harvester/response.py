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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from harvester.request import Request
from harvester.selector import Selector, SelectorList

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SAMPLE = 64 * 1024  # bytes looked at to tell a charset no header or meta names
_LATIN = frozenset({"cp1250", "cp1252", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_4",
                    "iso8859_9", "iso8859_13", "iso8859_15", "iso8859_16", "mac_latin2", "mac_roman",
                    "mac_iceland", "mac_turkish", "ascii"})
_LINKS = "//a/@href | //area/@href"
_BASE_TAG = re.compile(rb"<base[\s/>]", re.IGNORECASE)
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~-][A-Za-z0-9_./~-]*$")  # a relative path, nothing else
_HTML5_SPACE = " \t\n\r\x0c"  # stripped from an href, as browsers do
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
    _encoding: str | None = field(default=None, repr=False)
    _text: str | None = field(default=None, repr=False)
    _selector: Selector | None = field(default=None, repr=False)
    _json_selector: Selector | None = field(default=None, repr=False)  # behind jmespath()
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
            self._encoding = _detect_encoding(self.headers.get("content-type", ""), self.body)
        return self._encoding

    @property
    def text(self) -> str:
        if self._text is None:
            body = self.body
            for bom, _ in _BOMS:
                if body.startswith(bom):
                    body = body[len(bom):]
                    break
            self._text = body.decode(self.encoding, errors="replace")
        return self._text

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def selector(self) -> Selector:
        if self._selector is None:
            if "xml" in self.content_type and "html" not in self.content_type:
                self._selector = Selector.from_xml(self.body)
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

    def follow_all(
        self,
        urls: Any = None,
        callback: Any = None,
        *,
        css: str | None = None,
        xpath: str | None = None,
        **kwargs: Any,
    ) -> Iterator[Request]:
        """Requests for several links, made as they are taken, as Scrapy's ``follow_all``.

        `urls` holds URLs (relative to this page), `Link`s or selectors; ``css=`` or
        ``xpath=`` selects them here. Of selected `<a>` and `<link>` elements the href is
        followed, of attribute or text selections the value; other elements and anchors
        without href are skipped. With none of the three: every link of the page, `links()`.
        Other arguments go to each `Request`.
        """
        if sum(x is not None for x in (urls, css, xpath)) > 1:
            raise ValueError("follow_all takes one of urls, css or xpath")
        if isinstance(urls, str | bytes):
            raise TypeError("follow_all takes an iterable of URLs; for one URL use follow()")
        if css is not None:
            urls = self.css(css)
        elif xpath is not None:
            urls = self.xpath(xpath)
        targets: Iterable[Any]
        if urls is None:
            targets = self.links()
        elif isinstance(urls, SelectorList):
            targets = (url for url in map(_selected_url, urls) if url is not None)
        else:  # URLs, selectors, or Links (their url)
            targets = (u if isinstance(u, str | Selector) else getattr(u, "url", u) for u in urls)
        return (self.follow(url, callback=callback, **kwargs) for url in targets)

    def jmespath(self, query: str, **kwargs: Any) -> SelectorList:
        """The values matching a JMESPath `query` in the JSON body, as Scrapy's ``response.jmespath``.

        A body that is not JSON matches nothing; `kwargs` go to ``jmespath.search``.
        """
        if self._json_selector is None:
            self._json_selector = Selector(text=self.text, type="json")
        return self._json_selector.jmespath(query, **kwargs)

    def __repr__(self) -> str:
        return f"<{self.status} {self.url}>"


def _selected_url(selected: Selector) -> str | None:
    """The URL a selection names (`<a>`/`<link>` href, or a selected value), as Scrapy reads it."""
    root = selected.root
    if isinstance(root, str):
        return root.strip(_HTML5_SPACE)
    href = root.get("href") if getattr(root, "tag", None) in ("a", "link") else None
    return None if href is None else href.strip(_HTML5_SPACE)


def _join_path(directory: str, relative: str) -> str:
    """`relative` resolved against `directory` (ends with /), dot segments removed, as urljoin does."""
    joined = posixpath.normpath(directory + relative)
    if relative.endswith(("/", "/.", "/..")) or relative in (".", ".."):
        joined = joined.rstrip("/") + "/"
    return joined if not joined.startswith("//") else "/" + joined.lstrip("/")


def _detect_encoding(content_type: str, body: bytes) -> str:
    """Charset from a BOM, then the Content-Type header, then `<meta charset>`, else detected."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            found = _known_codec(value.strip().strip("'\""))
            if found:
                return found
    match = _META_CHARSET.search(body[:4096])
    if match:
        found = _known_codec(match.group(1).decode("ascii", "ignore"))
        if found:
            return found
    return _detected(body)


def _detected(body: bytes) -> str:
    """UTF-8 when the body is valid UTF-8; else a detected charset, cp1252 for Latin text.

    Detection (charset_normalizer, on the first 64 KiB) is trusted for CJK,
    Cyrillic, Greek and other scripts; for text it takes for a Latin
    single-byte charset, windows-1252 is kept, as browsers do by default.
    """
    sample = body[:_SAMPLE]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and len(body) > len(sample):  # a character cut by the sample
            return "utf-8"
    import charset_normalizer

    best = charset_normalizer.from_bytes(sample).best()
    if best is None or best.encoding in _LATIN or "cp1252" in best.could_be_from_charset:
        return "cp1252"
    return _known_codec(best.encoding) or "cp1252"


def _known_codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return "cp1252" if codec == "latin-1" else codec  # browsers read latin-1 as windows-1252
