"""Selecting data from parsed documents: the "Response -> spider callback" step.

A parsel-like :class:`Selector` over lxml trees with XPath and CSS queries (CSS supports
Scrapy's ``::text`` and ``::attr(name)`` pseudo-elements). CSS translations and compiled
XPath expressions are cached, since the same queries run against every crawled page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal, SupportsIndex, overload

import lxml.html
from cssselect import GenericTranslator, HTMLTranslator, SelectorError, parse
from cssselect.parser import FunctionalPseudoElement, tokenize
from lxml import etree

__all__ = ["Selector", "SelectorList"]

SelectorType = Literal["html", "xml", "text"]
_Element = etree._Element
_DEFAULT_NS: dict[str, str] = {
    "re": "http://exslt.org/regular-expressions",
    "set": "http://exslt.org/sets",
}
_NO_NS: tuple[tuple[str, str], ...] = ()
_Regex = str | re.Pattern[str]
_SIMPLE_NAME = re.compile(r"[A-Za-z_][\w.-]*\Z")
_TRANSLATORS = {True: HTMLTranslator(), False: GenericTranslator()}
# Entities are never expanded and nothing is fetched: XXE / entity expansion safe.
_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
)


@lru_cache(maxsize=32)
def _html_parser(encoding: str) -> lxml.html.HTMLParser | None:
    try:
        return lxml.html.HTMLParser(encoding=encoding)
    except LookupError:  # libxml2 does not know it; caller transcodes in Python
        return None


@lru_cache(maxsize=1024)
def _compile_xpath(query: str, ns: tuple[tuple[str, str], ...]) -> etree.XPath:
    # The EXSLT prefixes are bound only for queries that use them: with `set:` bound,
    # lxml 6.1 leaks about 130 bytes per evaluation (21 MB per 160,000 feed records).
    defaults = {prefix: uri for prefix, uri in _DEFAULT_NS.items() if f"{prefix}:" in query}
    try:
        return etree.XPath(query, namespaces={**defaults, **dict(ns)}, smart_strings=False)
    except etree.XPathError as exc:
        raise ValueError(f"invalid XPath {query!r}: {exc}") from exc


def _bare_parts(query: str) -> list[bool]:
    """For each comma-separated part: does it start with a pseudo-element (``::text``)?"""
    toks = [t for t in tokenize(query) if t.type != "S"]
    flags: list[bool] = []
    depth, at_start = 0, True
    for i, tok in enumerate(toks):
        if at_start and tok.type != "EOF":
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            flags.append(tok == ("DELIM", ":") and nxt == ("DELIM", ":"))
        at_start = False
        if tok.type == "DELIM":
            if tok.value == "(":
                depth += 1
            elif tok.value == ")":
                depth -= 1
            elif tok.value == "," and depth == 0:
                at_start = True
    return flags


@lru_cache(maxsize=1024)
def _css_to_xpath(query: str, html: bool) -> str:
    translator = _TRANSLATORS[html]
    try:
        selectors = parse(query)
        bare = _bare_parts(query)
        parts = []
        for sel, is_bare in zip(selectors, bare, strict=True):
            # Relative to the selector's node; a bare "::text" means its own text children.
            path = ("self::" if is_bare else "descendant-or-self::") + str(
                translator.xpath(sel.parsed_tree)
            )
            pseudo = sel.pseudo_element
            if isinstance(pseudo, FunctionalPseudoElement) and pseudo.name == "attr":
                if pseudo.argument_types() not in (["IDENT"], ["STRING"]):
                    raise SelectorError(f"::attr() takes one name, got {pseudo.arguments!r}")
                name = pseudo.arguments[0].value
                name = name.lower() if html else name
                if _SIMPLE_NAME.match(name):
                    path += f"/@{name}"
                else:
                    path += f"/@*[name() = {GenericTranslator.xpath_literal(name)}]"
            elif pseudo == "text":
                path += "/text()"
            elif pseudo is not None:
                shown = pseudo if isinstance(pseudo, str) else pseudo.name + "()"
                raise SelectorError(f"unsupported pseudo-element ::{shown}")
            parts.append(path)
    except (SelectorError, ValueError) as exc:
        raise ValueError(f"invalid CSS selector {query!r}: {exc}") from exc
    return " | ".join(parts)


def _extract_regex(regex: _Regex, text: str) -> list[str]:
    pattern = re.compile(regex) if isinstance(regex, str) else regex
    if "extract" in pattern.groupindex:
        return [m.group("extract") for m in pattern.finditer(text)]
    out: list[str] = []
    for match in pattern.findall(text):
        if isinstance(match, tuple):
            out.extend(match)
        else:
            out.append(match)
    return out


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
    sel = object.__new__(Selector)
    sel.ns = ns
    sel.stopped = None
    if isinstance(value, _Element):
        sel.root, sel.type = value, kind
    else:  # text node, attribute value, string(), number or boolean
        sel.root, sel.type = value if type(value) is str else str(value), "text"
    return sel


class Selector:
    """An lxml element (``type`` "html"/"xml") or a plain string result (``type`` "text")."""

    __slots__ = ("ns", "root", "stopped", "type")
    root: Any  # etree._Element for html/xml, str for text
    type: SelectorType
    ns: tuple[tuple[str, str], ...]  # registered (prefix, uri) pairs, passed on to results
    stopped: str | None  # why the parser stopped before the document's end (nesting too deep), if it did

    def __init__(
        self,
        root: Any = None,
        text: str | None = None,
        *,
        type: SelectorType | None = None,
        namespaces: Mapping[str, str] | None = None,
    ) -> None:
        self.ns = tuple(sorted(namespaces.items())) if namespaces else _NO_NS
        self.stopped = None
        if (root is None) == (text is None):
            raise ValueError("Selector needs exactly one of root= (lxml element) or text=")
        if text is not None:
            if not isinstance(text, str):
                raise TypeError(f"text must be str, got {text.__class__.__name__}")
            self.root, self.type = text, "text"
        else:
            if not isinstance(root, _Element):
                raise TypeError(f"root must be an lxml element, got {root.__class__.__name__}")
            self.root = root
            self.type = type or ("html" if isinstance(root, lxml.html.HtmlMixin) else "xml")

    @classmethod
    def from_html(
        cls, body: bytes, encoding: str = "utf-8", base_url: str | None = None
    ) -> Selector:
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
    def from_xml(cls, body: bytes, base_url: str | None = None) -> Selector:
        """Parse XML without expanding entities or touching the network (recovering)."""
        root = _parse(body, _XML_PARSER, base_url)
        if root is None:  # empty or unparseable: an empty <root/> document
            root = etree.Element("root")
        return cls(root=root, type="xml")

    @property
    def namespaces(self) -> dict[str, str]:
        return dict(self.ns)

    def register_namespace(self, prefix: str, uri: str) -> None:
        """Let this selector's XPath queries (and those of its results) use `prefix:`."""
        self.ns = tuple(sorted({**dict(self.ns), prefix: uri}.items()))

    def xpath(
        self, query: str, namespaces: Mapping[str, str] | None = None, **variables: Any
    ) -> SelectorList:
        if self.type == "text":
            return SelectorList()
        ns = self.ns
        if namespaces:
            ns = tuple(sorted({**dict(ns), **namespaces}.items()))
        try:
            result = _compile_xpath(query, ns)(self.root, **variables)
        except etree.XPathError as exc:
            raise ValueError(f"XPath {query!r} failed: {exc}") from exc
        kind, own = self.type, self.ns
        if type(result) is list:
            return SelectorList([_wrap(x, kind, own) for x in result])
        return SelectorList([_wrap(result, kind, own)])

    def css(self, query: str) -> SelectorList:
        if self.type == "text":
            return SelectorList()
        return self.xpath(_css_to_xpath(query, self.type == "html"))

    def get(self) -> str:
        if self.type == "text":
            return self.root
        method = "html" if self.type == "html" else "xml"
        return etree.tostring(self.root, method=method, encoding="unicode", with_tail=False)

    def getall(self) -> list[str]:
        return [self.get()]

    @property
    def attrib(self) -> dict[str, str]:
        return {} if self.type == "text" else dict(self.root.attrib)

    @property
    def text(self) -> str:
        """All descendant text joined (element), or the string itself."""
        root = self.root
        if self.type == "text":
            return root
        if isinstance(root.tag, str):
            return "".join(root.itertext())
        return root.text or ""  # comment / processing instruction

    def re(self, regex: _Regex) -> list[str]:
        return _extract_regex(regex, self.get())

    def re_first(self, regex: _Regex, default: str | None = None) -> str | None:
        return next(iter(self.re(regex)), default)

    def __repr__(self) -> str:
        data = self.get()
        data = data if len(data) <= 40 else data[:37] + "..."
        return f"<Selector type={self.type} data={data!r}>"


class SelectorList(list[Selector]):
    """A list of :class:`Selector` whose query methods apply to (and flatten over) members."""

    @overload
    def __getitem__(self, index: SupportsIndex) -> Selector: ...
    @overload
    def __getitem__(self, index: slice) -> SelectorList: ...
    def __getitem__(self, index: SupportsIndex | slice) -> Selector | SelectorList:
        item = super().__getitem__(index)
        return SelectorList(item) if isinstance(index, slice) else item

    def xpath(
        self, query: str, namespaces: Mapping[str, str] | None = None, **variables: Any
    ) -> SelectorList:
        return SelectorList([r for s in self for r in s.xpath(query, namespaces, **variables)])

    def css(self, query: str) -> SelectorList:
        return SelectorList([r for s in self for r in s.css(query)])

    def get(self, default: str | None = None) -> str | None:
        if not self:
            return default
        first = list.__getitem__(self, 0)  # (skips the slice handling of __getitem__: a hot path)
        return first.root if first.type == "text" else first.get()

    def getall(self) -> list[str]:
        return [s.get() for s in self]

    @property
    def attrib(self) -> dict[str, str]:
        return self[0].attrib if self else {}

    def re(self, regex: _Regex) -> list[str]:
        return [m for s in self for m in s.re(regex)]

    def re_first(self, regex: _Regex, default: str | None = None) -> str | None:
        return next((m for s in self for m in s.re(regex)), default)
