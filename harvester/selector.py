"""Selecting data from parsed documents: the "Response -> spider callback" step.

A parsel-like :class:`Selector` over lxml trees with XPath and CSS queries (CSS supports
Scrapy's ``::text`` and ``::attr(name)`` pseudo-elements), and over decoded JSON with
JMESPath queries. CSS translations and compiled XPath expressions are cached, since the
same queries run against every crawled page.

Scrapy's habits work as there: ``Selector(text=html)`` parses HTML (or JSON, when the text
is JSON), ``Selector(response)``, ``.extract()``/``.extract_first()``, ``.re()`` with
entities replaced, XPath ``has-class("a", "b")`` and ``.jmespath()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal, SupportsIndex, overload

import lxml.html
from lxml import etree

from harvester.queries import Regex, compile_xpath, css_to_xpath, extract_regex

__all__ = ["Selector", "SelectorList"]

SelectorType = Literal["html", "xml", "json", "text"]
_Element = etree._Element
_NO_NS: tuple[tuple[str, str], ...] = ()
_NOT_SET: Any = object()  # "no root given": None is a root (JSON null)
_STARTS_MARKUP = re.compile(rb"\s*<")


@lru_cache(maxsize=32)
def _html_parser(encoding: str) -> lxml.html.HTMLParser | None:
    try:
        return lxml.html.HTMLParser(encoding=encoding)
    except LookupError:  # libxml2 does not know it; caller transcodes in Python
        return None


@lru_cache(maxsize=32)
def _xml_parser(encoding: str | None) -> etree.XMLParser:
    """A recovering XML parser that never expands entities nor touches the network (XXE safe).

    With `encoding` it overrides the document's own declaration (text already decoded).
    """
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
    )


def _load_json(text: str | bytes) -> Any:
    """The decoded JSON value of `text`, or `_NOT_SET` when it is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        return _NOT_SET


def _parse(body: bytes, parser: etree._BaseParser | None, base_url: str | None) -> Any:
    if not body or body.isspace():  # (isspace stops at the first non-space byte)
        return None
    try:
        return etree.fromstring(body, parser, base_url=base_url)
    except etree.XMLSyntaxError:
        return None


def _stopped(parser: etree._BaseParser | None) -> str | None:
    """What ended the last parse early (libxml2's depth limit: 256 levels), read from its error log."""
    for error in parser.error_log if parser is not None else ():
        if error.level_name == "FATAL":
            return f"line {error.line}: {error.message}"
    return None


def _wrap(value: Any, kind: SelectorType, ns: tuple[tuple[str, str], ...] = _NO_NS) -> Selector:
    """An XPath result as a Selector: an element, or a string of the document's `kind`."""
    sel = object.__new__(Selector)
    sel.ns, sel.type = ns, kind
    sel.stopped = None
    if isinstance(value, _Element) or type(value) is str:
        sel.root = value
    elif value is True or value is False:
        sel.root = "1" if value else "0"  # XPath booleans, as parsel gives them
    else:  # number, or a str subclass
        sel.root = str(value)
    return sel


def _json_value(value: Any) -> Selector:
    """A JMESPath result as a Selector: a string is text (queryable as HTML), the rest JSON."""
    sel = object.__new__(Selector)
    sel.ns, sel.root = _NO_NS, value
    sel.stopped = None
    sel.type = "text" if isinstance(value, str) else "json"
    return sel


class Selector:
    """A selected part of a document: an lxml element, a string, or a decoded JSON value.

    ``type`` is "html" or "xml" for a document's elements and the strings selected from
    it (text, attribute values, XPath numbers), "json" for a JSON value and "text" for
    plain text (whose CSS and XPath queries read it as HTML, as parsel's do).

    Made from one source, as in Scrapy and parsel: ``Selector(response)``,
    ``Selector(text=...)`` (JSON text becomes a JSON selector, other text HTML, or XML
    with ``type="xml"``; ``type="text"`` keeps it as it is), ``Selector(body=bytes,
    encoding=...)`` or ``Selector(root=...)`` (an lxml element, or any JSON value). A
    string first argument is text, an lxml element a root.
    """

    __slots__ = ("_tree", "ns", "root", "stopped", "type")
    root: Any  # etree._Element, str, or (type "json") any decoded JSON value
    type: SelectorType
    ns: tuple[tuple[str, str], ...]  # registered (prefix, uri) pairs, passed on to results
    stopped: str | None  # why the parser stopped before the document's end (nesting too deep), if it did
    _tree: Any  # type "text": the text parsed as HTML, on the first query

    def __init__(
        self,
        response: Any = None,
        text: str | None = None,
        type: SelectorType | None = None,
        *,
        body: bytes = b"",
        encoding: str = "utf-8",
        namespaces: Mapping[str, str] | None = None,
        root: Any = _NOT_SET,
        base_url: str | None = None,
    ) -> None:
        if isinstance(response, str) and text is None:  # parsel's Selector("<html>...")
            response, text = None, response
        elif isinstance(response, _Element) and root is _NOT_SET:
            response, root = None, response
        given = (response is not None) + (text is not None) + bool(body) + (root is not _NOT_SET)
        if given != 1:
            raise ValueError("Selector takes one of response, text, body or root")
        if type not in (None, "html", "xml", "json", "text"):
            raise ValueError(f"Selector type must be html, xml, json or text, not {type!r}")
        self.ns = tuple(sorted(namespaces.items())) if namespaces else _NO_NS
        self.stopped = None
        if response is not None:
            if not hasattr(response, "selector"):
                raise TypeError(f"Selector(response) takes a Response, got {response.__class__.__name__}")
            self._from_response(response, type)
        elif text is not None:
            if not isinstance(text, str):
                raise TypeError(f"text must be str, got {text.__class__.__name__}")
            self._from_text(text, type, base_url)
        elif body:
            if not isinstance(body, bytes | bytearray):
                raise TypeError(f"body must be bytes, got {body.__class__.__name__}")
            self._from_body(bytes(body), encoding, type, base_url)
        elif isinstance(root, _Element):
            if type in ("json", "text"):
                raise ValueError(f"an lxml element is not a Selector of type {type!r}")
            self.root = root
            self.type = type or ("html" if isinstance(root, lxml.html.HtmlMixin) else "xml")
        else:
            self.root, self.type = root, type or "json"

    def _from_response(self, response: Any, type: SelectorType | None) -> None:
        """As Scrapy's ``Selector(response)``: its JSON value, or its (shared) HTML/XML tree."""
        if type in (None, "json") and not _STARTS_MARKUP.match(response.body):
            value = _load_json(response.text)
            if value is not _NOT_SET or type == "json":
                self.root, self.type = (None if value is _NOT_SET else value), "json"
                return
        if type == "text":
            self.root, self.type = response.text, "text"
            return
        tree = response.selector
        if type is not None and type != tree.type:
            tree = Selector(text=response.text, type=type, base_url=response.url)
        self.root, self.type = tree.root, tree.type

    def _from_text(self, text: str, type: SelectorType | None, base_url: str | None) -> None:
        if type == "text":
            self.root, self.type = text, "text"
            return
        value = _load_json(text)
        if value is not _NOT_SET or type == "json":
            self.root, self.type = (None if value is _NOT_SET else value), "json"
            return
        body = text.strip().replace("\x00", "").encode("utf-8")
        tree = (
            Selector.from_xml(body, base_url, "utf-8") if type == "xml" else Selector.from_html(body, "utf-8", base_url)
        )
        self.root, self.type = tree.root, tree.type

    def _from_body(self, body: bytes, encoding: str, type: SelectorType | None, base_url: str | None) -> None:
        if type == "text":
            self.root, self.type = body.decode(encoding), "text"
            return
        value = _load_json(body) if encoding.lower() in ("utf-8", "utf8") else _NOT_SET
        if value is not _NOT_SET or type == "json":
            self.root, self.type = (None if value is _NOT_SET else value), "json"
            return
        tree = (
            Selector.from_xml(body, base_url, encoding)
            if type == "xml"
            else Selector.from_html(body, encoding, base_url)
        )
        self.root, self.type = tree.root, tree.type

    @classmethod
    def from_html(cls, body: bytes, encoding: str = "utf-8", base_url: str | None = None) -> Selector:
        """Parse (possibly broken or empty) HTML; never raises on bad markup."""
        if isinstance(body, str):
            body, encoding = body.encode("utf-8"), "utf-8"
        parser = _html_parser(encoding)
        if parser is None:  # encoding unknown to libxml2: decode in Python instead
            try:
                text = body.decode(encoding, errors="replace")
            except LookupError:
                text = body.decode("utf-8", errors="replace")
            body, parser = text.lstrip("\ufeff").encode("utf-8"), _html_parser("utf-8")
        root = _parse(body, parser, base_url)
        stopped = _stopped(parser) if root is not None else None
        if root is None:  # empty or whitespace-only body: an empty document
            root = etree.fromstring(b"<html/>", parser, base_url=base_url)
        selector = cls(root=root, type="html")
        selector.stopped = stopped
        return selector

    @classmethod
    def from_xml(cls, body: bytes, base_url: str | None = None, encoding: str | None = None) -> Selector:
        """Parse XML without expanding entities or touching the network (recovering).

        `encoding`, when given, overrides the document's declaration.
        """
        try:
            parser = _xml_parser(encoding)
        except LookupError:  # unknown to libxml2: transcode, as from_html does
            body, parser = (
                body.decode(encoding or "utf-8", errors="replace").encode(),
                _xml_parser("utf-8"),
            )
        root = _parse(body, parser, base_url)
        if root is None:  # empty or unparseable: an empty <root/> document
            root = etree.Element("root")
        return cls(root=root, type="xml")

    @property
    def namespaces(self) -> dict[str, str]:
        """The prefixes this selector's XPath queries may use, as `{prefix: uri}` (see `register_namespace`)."""
        return dict(self.ns)

    def register_namespace(self, prefix: str, uri: str) -> None:
        """Let this selector's XPath queries (and those of its results) use `prefix:`."""
        self.ns = tuple(sorted({**dict(self.ns), prefix: uri}.items()))

    def remove_namespaces(self) -> None:
        """Strip namespaces from the document's tags and attributes, so plain names match."""
        if not isinstance(self.root, _Element):
            return
        for element in self.root.iter("*"):
            if element.tag.startswith("{"):
                element.tag = element.tag.split("}", 1)[1]
            for name in [n for n in element.attrib if n.startswith("{")]:
                element.attrib[name.split("}", 1)[1]] = element.attrib.pop(name)
        etree.cleanup_namespaces(self.root)

    def _queried(self) -> Any:
        """The element CSS and XPath queries run on; None for a string selected from a document."""
        root = self.root
        if isinstance(root, _Element):
            return root
        if self.type == "json":
            raise ValueError("a JSON Selector has no CSS or XPath: use .jmespath()")
        if self.type != "text":
            return None
        try:
            return self._tree
        except AttributeError:  # plain text is read as HTML, once
            self._tree = Selector.from_html(root.strip().replace("\x00", "").encode("utf-8")).root
            return self._tree

    def xpath(self, query: str, namespaces: Mapping[str, str] | None = None, **variables: Any) -> SelectorList:
        """Nodes matching the XPath 1.0 `query` under this selection.

        Args:
            query: an XPath expression; `has-class("a", "b")` is available, as in parsel.
            namespaces: extra `{prefix: uri}` for this query only.
            **variables: values for `$name` variables in `query`.

        A string selected from a document matches nothing; plain text is read as HTML;
        a JSON selector raises `ValueError` (use `jmespath`). A bad query raises `ValueError`.
        Example: `sel.xpath("//li[has-class('book')]/a/@href").getall()`.
        """
        tree, kind = self.root, self.type
        if not isinstance(tree, _Element):
            tree, kind = self._queried(), "html"  # (plain text is read as HTML)
            if tree is None:
                return SelectorList()
        ns = self.ns
        if namespaces:
            ns = tuple(sorted({**dict(ns), **namespaces}.items()))
        try:
            result = compile_xpath(query, ns)(tree, **variables)
        except etree.XPathError as exc:
            raise ValueError(f"XPath {query!r} failed: {exc}") from exc
        own = self.ns
        if type(result) is list:
            return SelectorList([_wrap(x, kind, own) for x in result])
        return SelectorList([_wrap(result, kind, own)])

    def css(self, query: str) -> SelectorList:
        """Elements matching the CSS `query` under this selection (translated to XPath).

        `::text` selects text nodes and `::attr(name)` attribute values, as in Scrapy.
        Example: `sel.css("article.product_pod h3 a::attr(title)").getall()`.
        """
        if not isinstance(self.root, _Element) and self._queried() is None:
            return SelectorList()  # a string selected from a document
        return self.xpath(css_to_xpath(query, self.type != "xml"))

    def jmespath(self, query: str, **kwargs: Any) -> SelectorList:
        """Values matching the JMESPath `query` in this JSON value (or JSON text).

        An element is read as JSON from its own text (``<script>{...}</script>``); what is
        not JSON matches nothing. A list result gives one Selector per member; strings
        are "text" Selectors (``.css()`` and ``.xpath()`` read them as HTML). Keyword
        arguments go to ``jmespath.search`` (``options=``).
        """
        import jmespath  # (imported on first use: most crawls never ask)

        root = self.root
        if self.type == "json" and not isinstance(root, str):
            data = root
        else:
            text = root.text if isinstance(root, _Element) else root
            data = None if text is None else _load_json(text)
            data = None if data is _NOT_SET else data
        result = jmespath.search(query, data, **kwargs)
        if result is None:
            return SelectorList()
        return SelectorList(map(_json_value, result if isinstance(result, list) else [result]))

    def get(self) -> Any:
        """The selection as a string (markup for an element); a JSON value as it is."""
        root = self.root
        if not isinstance(root, _Element):
            return root
        method = "xml" if self.type == "xml" else "html"
        return etree.tostring(root, method=method, encoding="unicode", with_tail=False)

    extract = get

    def getall(self) -> list[Any]:
        """`[self.get()]`: a one-member list, so a Selector reads like a SelectorList."""
        return [self.get()]

    @property
    def attrib(self) -> dict[str, str]:
        """The element's attributes as a dict; `{}` for a string or JSON value."""
        root = self.root
        return dict(root.attrib) if isinstance(root, _Element) else {}

    @property
    def text(self) -> str:
        """All descendant text joined (element), or the string itself."""
        root = self.root
        if isinstance(root, str):
            return root
        if not isinstance(root, _Element):
            return json.dumps(root, ensure_ascii=False)
        if isinstance(root.tag, str):
            return "".join(root.itertext())
        return root.text or ""  # comment / processing instruction

    def re(self, regex: Regex, replace_entities: bool = True) -> list[str]:
        """Matches of `regex` in the selection (an element's markup), as parsel finds them."""
        return extract_regex(regex, self.get(), replace_entities)

    def re_first(self, regex: Regex, default: str | None = None, replace_entities: bool = True) -> str | None:
        """The first match of `regex` (see `re`), or `default` when none."""
        return next(iter(self.re(regex, replace_entities)), default)

    def __bool__(self) -> bool:
        """Whether anything was selected: an empty string (or JSON 0, [], ...) is false."""
        return bool(self.get())

    def __str__(self) -> str:
        return str(self.get())

    def __repr__(self) -> str:
        data = str(self.get())
        data = data if len(data) <= 40 else data[:37] + "..."
        return f"<Selector type={self.type} data={data!r}>"


class SelectorList(list[Selector]):
    """A list of :class:`Selector` whose query methods apply to (and flatten over) members."""

    @overload
    def __getitem__(self, index: SupportsIndex) -> Selector: ...
    @overload
    def __getitem__(self, index: slice) -> SelectorList: ...
    def __getitem__(self, index: SupportsIndex | slice) -> Selector | SelectorList:
        if isinstance(index, slice):
            return SelectorList(super().__getitem__(index))
        return super().__getitem__(index)

    def xpath(self, query: str, namespaces: Mapping[str, str] | None = None, **variables: Any) -> SelectorList:
        """`xpath()` run on every member, results in one list (parameters as `Selector.xpath`)."""
        return SelectorList([r for s in self for r in s.xpath(query, namespaces, **variables)])

    def css(self, query: str) -> SelectorList:
        """`css()` run on every member, results in one list."""
        return SelectorList([r for s in self for r in s.css(query)])

    def jmespath(self, query: str, **kwargs: Any) -> SelectorList:
        """The JMESPath `query` run on every member, results in one list."""
        return SelectorList([r for s in self for r in s.jmespath(query, **kwargs)])

    def get(self, default: Any = None) -> Any:
        """The first member's ``get()``, or `default` when the list is empty."""
        if not self:
            return default
        first = list.__getitem__(self, 0)  # (skips the slice handling of __getitem__: a hot path)
        root = first.root
        return root if type(root) is str else first.get()

    extract_first = get

    def getall(self) -> list[Any]:
        """Every member's ``get()``, in document order (``extract()`` is the same)."""
        return [s.get() for s in self]

    extract = getall

    @property
    def attrib(self) -> dict[str, str]:
        """The first member's attributes; `{}` when the list is empty."""
        return self[0].attrib if self else {}

    def re(self, regex: Regex, replace_entities: bool = True) -> list[str]:
        """Every member's `re()` matches, in one list.

        Args:
            regex: a pattern (string or compiled). With a group named `extract`, its text in
                the first match only; with other groups, every match's groups; else the
                matched text (as parsel).
            replace_entities: turn character references (`&eacute;`, `&#233;`) into
                characters, all but `&lt;` and `&amp;` (so markup stays markup).
        Example: `response.css(".price::text").re(r"[\\d.]+")`.
        """
        return [m for s in self for m in s.re(regex, replace_entities)]

    def re_first(self, regex: Regex, default: str | None = None, replace_entities: bool = True) -> str | None:
        """The first match of `regex` across the members, or `default` when none."""
        return next((m for s in self for m in s.re(regex, replace_entities)), default)
