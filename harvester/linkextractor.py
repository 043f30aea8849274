"""Response -> links for rule-driven spiders: `LinkExtractor` and `Link`, in Scrapy's shapes.

`LinkExtractor(allow=..., deny=..., allow_domains=..., deny_domains=...,
restrict_xpaths=..., restrict_css=...)` reads the `href` of `<a>` and
`<area>` elements (or the tags and attributes given) from the page's lxml
tree, so broken markup still yields its links. The values become links as
`response.links()` makes them (`harvester.links`: absolute per the WHATWG URL
Standard, the page's `<base href>` honoured, an href that does not parse or
names the page itself skipped, only the schemes followed from the page kept);
the rules here filter them, and each is kept once, in page order, its
fragment apart. A page nested deeper
than the tree parser goes (256 levels) raises `ParseError`, recorded as a
`parse` error, rather than losing the links after the nesting unseen.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harvester.exceptions import ParseError
from harvester.links import C0_OR_SPACE, resolve_links
from harvester.urls import ascii_domain
from harvester.urls import canonicalize as canonical_url

if TYPE_CHECKING:
    from harvester.response import Response

# Scrapy's list: links to these are not pages to crawl.
IGNORED_EXTENSIONS = frozenset(
    "7z 7zip bz2 rar tar tar.gz xz zip "
    "mng pct bmp gif jpg jpeg png pst psp tif tiff ai drw dxf eps ps svg cdr ico webp "
    "mp3 wma ogg wav ra aac mid au aiff "
    "3gp asf asx avi mov mp4 mpg qt rm swf wmv m4a m4v flv webm "
    "xls xlsm xlsx xltm xltx potm potx ppt pptm pptx pps doc docb docm docx dotm dotx odt ods odg odp "
    "css pdf exe bin rss dmg iso apk jar sh rb js hta bat cpl msi msp py".split()
)

Patterns = str | re.Pattern[str] | Iterable[str | re.Pattern[str]]


@dataclass(frozen=True)
class Link:
    """A link found on a page: its absolute URL (no fragment), the element's text, the
    fragment apart, and whether the element said `rel="nofollow"`."""

    url: str
    text: str = ""
    fragment: str = ""
    nofollow: bool = False


class LinkExtractor:
    """Picks links out of a page by patterns, domains and page areas, as Scrapy's does.

    A link is kept when it matches one of `allow` (or `allow` is empty), none of `deny`,
    its host is under `allow_domains` (when given) and not under `deny_domains`, and its
    extension is not one of `deny_extensions`.

    Args:
        allow: Regular expressions (searched in the absolute URL) a link must match one of.
        deny: Regular expressions a link must match none of.
        allow_domains: Domains whose hosts (and subdomains) are kept; empty: every host.
        deny_domains: Domains whose hosts (and subdomains) are dropped.
        restrict_xpaths: Only links inside the elements these XPath expressions select.
        tags: The element names read (default `a` and `area`).
        attrs: The attributes read (default `href`).
        canonicalize: Give links in their canonical form (the one fingerprints use).
        unique: Each URL once per page.
        process_value: Called with each raw attribute value; returns the value to use, or
            `None` to skip it.
        deny_extensions: Extensions of links that are not pages; default: Scrapy's list
            (archives, images, audio, video, office documents, `css`, `js`, `pdf`, ...).
        restrict_css: Only links inside the elements these CSS selectors select.
        strip: Strip leading and trailing control characters and ASCII spaces from values
            (as the URL parser does; NBSP and other spaces stay).
        restrict_text: Regular expressions the link's text must match one of.

    Example:
        ```python
        links = LinkExtractor(allow=r"/book/", restrict_css="main").extract_links(response)
        ```
    """

    def __init__(
        self,
        allow: Patterns = (),
        deny: Patterns = (),
        allow_domains: str | Iterable[str] = (),
        deny_domains: str | Iterable[str] = (),
        restrict_xpaths: str | Iterable[str] = (),
        tags: str | Iterable[str] = ("a", "area"),
        attrs: str | Iterable[str] = ("href",),
        canonicalize: bool = False,
        unique: bool = True,
        process_value: Callable[[str], str | None] | None = None,
        deny_extensions: str | Iterable[str] | None = None,
        restrict_css: str | Iterable[str] = (),
        strip: bool = True,
        restrict_text: Patterns = (),
    ) -> None:
        self.allow = _patterns(allow)
        self.deny = _patterns(deny)
        self.allow_domains = {ascii_domain(d) for d in _strings(allow_domains)}
        self.deny_domains = {ascii_domain(d) for d in _strings(deny_domains)}
        self.restrict_xpaths = _strings(restrict_xpaths)
        self.restrict_css = _strings(restrict_css)
        self.tags = _strings(tags)
        self.attrs = _strings(attrs)
        self.canonicalize = canonicalize
        self.unique = unique
        self.process_value = process_value
        extensions = IGNORED_EXTENSIONS if deny_extensions is None else _strings(deny_extensions)
        self.deny_extensions = {"." + e.lower().lstrip(".") for e in extensions}
        self.strip = strip
        self.restrict_text = _patterns(restrict_text)

    def extract_links(self, response: Response) -> list[Link]:
        """The links of `response` these rules accept (none for a page that is not HTML)."""
        if not response.is_html or not response.body:
            return []
        found: set[str] = set()
        links: list[Link] = []
        read = [
            (element, value)
            for element in self._elements(response)
            for attr in self.attrs
            if (value := element.get(attr)) is not None
        ]
        values = (self._value(value) for _, value in read)
        for (element, _), resolved in zip(read, resolve_links(response, values), strict=True):
            if resolved is None:
                continue
            link = self._link(element, resolved)
            if not self._accepts(link):
                continue
            if self.unique:
                if link.url in found:
                    continue
                found.add(link.url)
            links.append(link)
        stopped = response.selector.stopped
        if stopped is not None:  # the links after that point are unknown: a parse error, not a silent loss
            raise ParseError(f"HTML parsing stopped at {stopped}; links after it not read", response.request)
        return links

    def matches(self, url: str) -> bool:
        """Whether `url` passes the allow, deny, domain and extension rules (Scrapy's `matches`)."""
        return self._accepts(Link(url))

    def _elements(self, response: Response) -> Iterable[Any]:
        areas = [*self.restrict_xpaths, *(f"css:{query}" for query in self.restrict_css)]
        if not areas:
            yield from response.selector.root.iter(*self.tags)
            return
        seen: set[int] = set()
        for query in areas:
            selected = response.css(query[4:]) if query.startswith("css:") else response.xpath(query)
            for area in selected:
                if isinstance(area.root, str):
                    continue
                for element in area.root.iter(*self.tags):
                    if id(element) not in seen:  # nested areas: each element once
                        seen.add(id(element))
                        yield element

    def _value(self, value: str) -> str | None:
        """An attribute's value as it is resolved: stripped as told, then through `process_value`."""
        if self.strip:
            value = value.strip(C0_OR_SPACE)  # as the URL parser does: NBSP and other spaces stay
        return value if self.process_value is None else self.process_value(value)

    def _link(self, element: Any, resolved: str) -> Link:
        url, _, fragment = resolved.partition("#")
        if self.canonicalize:
            url = canonical_url(url)
        text = " ".join("".join(element.itertext()).split())
        rel = (element.get("rel") or "").lower().split()
        return Link(url, text, fragment, "nofollow" in rel)

    def _accepts(self, link: Link) -> bool:
        url = link.url
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        if any(p.search(url) for p in self.deny):
            return False
        host = (urlsplit(url).hostname or "").lower()
        if self.allow_domains and not _in_domains(host, self.allow_domains):
            return False
        if self.deny_domains and _in_domains(host, self.deny_domains):
            return False
        path = urlsplit(url).path.lower()
        if self.deny_extensions and (
            posixpath.splitext(path)[1] in self.deny_extensions
            or path.endswith(".tar.gz")
            and ".tar.gz" in self.deny_extensions
        ):
            return False
        return not self.restrict_text or any(p.search(link.text) for p in self.restrict_text)


def _in_domains(host: str, domains: set[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _strings(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _patterns(value: Patterns) -> list[re.Pattern[str]]:
    items = [value] if isinstance(value, str | re.Pattern) else list(value)
    return [re.compile(p) if isinstance(p, str) else p for p in items]
