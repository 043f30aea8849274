"""Responses: what a transport hands to the spider callback.

The body is bytes; text, the lxml tree behind `css()`/`xpath()`/`links()` and
the BeautifulSoup tree behind `soup` are built on first use only, so a
callback that never asks for BeautifulSoup never pays for it.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from harvester import charsets, urls
from harvester.exceptions import InvalidURL, ParseError
from harvester.hrefs import first_href, iter_hrefs
from harvester.linkextractor import Link
from harvester.links import resolve_links
from harvester.request import Request
from harvester.selector import Selector, SelectorList

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

_BASE_TAG = re.compile(rb"<base[\s/>]", re.IGNORECASE)
_HTML5_SPACE = " \t\n\r\x0c"  # stripped from an href, as browsers do
_HREFS = "//a/@href | //area/@href"  # what `iter_hrefs` collects, in document order
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
    _json_selector: Selector | None = field(default=None, repr=False)  # behind jmespath()
    _soup: BeautifulSoup | None = field(default=None, repr=False)
    _base_url: str | None = field(default=None, repr=False)
    _resolver: urls.Resolver | None = field(default=None, repr=False)
    _type: str | None = field(default=None, repr=False)  # the Content-Type header, read once

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
        """The request's `meta` dict (the spider's own data, carried to the callback); `{}` without a request."""
        return self.request.meta if self.request is not None else {}

    @property
    def content_type(self) -> str:
        """The media type of the `Content-Type` header, lower case, without parameters (`"text/html"`); `""` when absent."""
        return self._type_header.split(";")[0].strip().lower()

    @property
    def _type_header(self) -> str:
        """The `Content-Type` header as sent (`""` when absent), read once: a page asks for it
        four times or more, and a look-up in `httpx.Headers` is a scan of the headers."""
        if self._type is None:
            self._type = self.headers.get("content-type", "")
        return self._type

    @property
    def encoding(self) -> str:
        """The name of the encoding the body is read with.

        Taken from a byte order mark, the `Content-Type` charset or the page's `<meta charset>`
        (WHATWG labels: `latin1` reads as windows-1252, Python's `cp1252`); when none says,
        UTF-8 if the body is valid UTF-8, else detected (windows-1252 for Latin text).
        """
        if self._encoding is None:
            self._encoding = charsets.html_encoding(self._type_header, self.body)
        return self._encoding

    @property
    def text(self) -> str:
        """The body decoded with `encoding` (a byte order mark removed); bytes that do not decode become U+FFFD."""
        if self._text is None:
            marked = charsets.bom(self.body)
            same = marked is not None and codecs.lookup(marked[0]).name == codecs.lookup(self.encoding).name
            body = self.body[marked[1] :] if same else self.body  # type: ignore[index]
            self._text = body.decode(self.encoding, errors="replace")
        return self._text

    def json(self) -> Any:
        """The body decoded as JSON (`json.JSONDecodeError` when it is not).

        Example: `yield from response.json()["items"]`.
        """
        return json.loads(self.text)

    @property
    def selector(self) -> Selector:
        """The body parsed once into a `Selector`: XML for an XML media type (XHTML excepted), else HTML."""
        if self._selector is None:
            if "xml" in self.content_type and "html" not in self.content_type:
                body = charsets.xml_as_utf8(self.body, self._type_header)
                self._selector = Selector.from_xml(body)  # decoded by our labels, not libxml2's
            else:
                self._selector = Selector.from_html(self.body, self.encoding, base_url=self.url)
        return self._selector

    def css(self, query: str) -> SelectorList:
        """Elements matching the CSS `query` (with `::text` and `::attr(name)`), as `response.selector.css`.

        Example: `response.css("h1::text").get()`.
        """
        return self.selector.css(query)

    def xpath(self, query: str, **kwargs: Any) -> SelectorList:
        """Nodes matching the XPath 1.0 `query`, as `response.selector.xpath`.

        Keyword arguments bind XPath variables (`$name`) or pass `namespaces=`.
        Example: `response.xpath("//a[@rel=$rel]/@href", rel="next").get()`.
        """
        return self.selector.xpath(query, **kwargs)

    @property
    def soup(self) -> BeautifulSoup:
        """The body parsed once by BeautifulSoup (lxml parser), for code written against bs4."""
        if self._soup is None:
            from bs4 import BeautifulSoup

            self._soup = BeautifulSoup(self.body, "lxml", from_encoding=self.encoding)
        return self._soup

    @property
    def base_url(self) -> str:
        """The URL the page's links are relative to: its first `<base href>` if valid, else its URL."""
        if self._base_url is None:
            own = self.url
            request = self.request
            if request is None or own != request.url:  # a request's URL is parsed already
                with contextlib.suppress(InvalidURL):
                    own = urls.parse(own)
            self._base_url = own
            wide = codecs.lookup(self.encoding).name.startswith(("utf-16", "utf-32"))  # "<base" not in ASCII bytes
            if self.is_html and (wide or _BASE_TAG.search(self.body) is not None):  # a scan, not a parse
                href = first_href(self.body, self.encoding, "base")
                with contextlib.suppress(InvalidURL, ValueError):
                    self._base_url = urls.join(own, href) if href is not None else own
        return self._base_url

    @property
    def is_html(self) -> bool:
        """Whether the body is read as HTML: no `Content-Type`, an HTML one, or one that is not JSON, XML, CSV, script, media or binary."""
        kind = self.content_type
        return not kind or "html" in kind or not any(marker in kind for marker in _NON_HTML)

    def urljoin(self, url: str) -> str:
        """`url` resolved against the page's base URL (WHATWG); `InvalidURL` when it does not parse."""
        return self.resolver(url)

    @property
    def resolver(self) -> urls.Resolver:
        """Resolves this page's links against its base URL."""
        if self._resolver is None:
            self._resolver = urls.Resolver(self.base_url, self.encoding)
        return self._resolver

    def links(self) -> Iterator[str]:
        """The page's links, as they are found: absolute, without fragments, once each, in page order.

        Only links the scheme registry says are followed from this page
        (`harvester.schemes`): http(s) links from any page, ftp:// and file://
        links from a page of the same scheme (a directory listing's entries),
        data: links never. An href that does
        not parse is skipped, as a browser does; a page the HTML parser cannot
        read to its end raises `ParseError` after the links before the fault.
        """
        if not self.is_html or not self.body:
            return
        seen: set[str] = set()
        try:
            for link in resolve_links(self, self._hrefs()):
                if link is None:
                    continue
                url = urls.without_fragment(link)
                if url not in seen:
                    seen.add(url)
                    yield url
        except ParseError as exc:
            exc.request = self.request
            raise

    def _hrefs(self) -> Iterable[str]:
        """The `<a>`/`<area>` hrefs in page order: from the parsed tree when the callback already
        built it whole (no second parse), else streamed from the body without building one."""
        tree = self._selector
        if tree is not None and tree.type == "html" and tree.stopped is None:
            return tree.root.xpath(_HREFS)  # type: ignore[no-any-return]
        return iter_hrefs(self.body, self.encoding)

    def follow(self, url: str | Link | Selector, callback: Any = None, **kwargs: Any) -> Request:
        """A request for `url` (relative to this page, a `Link`, or an `<a>` selector); `InvalidURL` when it does not parse."""
        if isinstance(url, Link):
            url = url.url
        elif isinstance(url, Selector):
            url = url.attrib.get("href") or url.get() or ""
        url = str(url)
        if not (url.startswith(("http://", "https://")) and url.isascii()):  # else alike with or without a base
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
