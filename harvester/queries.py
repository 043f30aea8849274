"""Queries for selectors: XPath compiled and cached, CSS translated to XPath (with Scrapy's
``::text`` and ``::attr(name)``), XPath ``has-class()`` and ``re()`` as parsel gives them.

The same queries run against every crawled page, so translations and compiled expressions
are cached here; `harvester.selector` runs them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from typing import Any

from cssselect import GenericTranslator, HTMLTranslator, SelectorError, parse
from cssselect.parser import FunctionalPseudoElement, tokenize
from lxml import etree

Regex = str | re.Pattern[str]
_DEFAULT_NS: dict[str, str] = {
    "re": "http://exslt.org/regular-expressions",
    "set": "http://exslt.org/sets",
}
_SIMPLE_NAME = re.compile(r"[A-Za-z_][\w.-]*\Z")
_TRANSLATORS = {True: HTMLTranslator(), False: GenericTranslator()}
_HTML5_SPACE = " \t\n\r\x0c"
_SPACES = re.compile(f"[{_HTML5_SPACE}]+")
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")


@lru_cache(maxsize=1024)
def compile_xpath(query: str, ns: tuple[tuple[str, str], ...]) -> etree.XPath:
    # The EXSLT prefixes are bound only for queries that use them: with `set:` bound,
    # lxml 6.1 leaks about 130 bytes per evaluation (21 MB per 160,000 feed records).
    defaults = {prefix: uri for prefix, uri in _DEFAULT_NS.items() if f"{prefix}:" in query}
    try:
        return etree.XPath(query, namespaces={**defaults, **dict(ns)}, smart_strings=False)
    except etree.XPathError as exc:
        raise ValueError(f"invalid XPath {query!r}: {exc}") from exc


def _has_class(context: Any, *classes: Any) -> bool:
    """XPath ``has-class("a", "b")``: the node's class attribute holds every name (as parsel)."""
    if not classes:
        raise ValueError("XPath error: has-class must have at least 1 argument")
    if not all(isinstance(name, str) for name in classes):
        raise ValueError("XPath error: has-class arguments must be strings")
    try:
        node = context.context_node
    except AssertionError:  # a text or attribute node: lxml has no element for it
        return False
    value = node.get("class") if isinstance(node, etree._Element) else None
    if value is None:
        return False
    names = f" {_SPACES.sub(' ', value)} "
    return all(f" {name} " in names for name in classes)


# Registered once, in lxml's global function namespace, as parsel does at import.
etree.FunctionNamespace(None)["has-class"] = _has_class


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
def css_to_xpath(query: str, html: bool) -> str:
    translator = _TRANSLATORS[html]
    try:
        selectors = parse(query)
        bare = _bare_parts(query)
        parts = []
        for sel, is_bare in zip(selectors, bare, strict=True):
            # Relative to the selector's node; a bare "::text" means its own text children.
            path = ("self::" if is_bare else "descendant-or-self::") + str(translator.xpath(sel.parsed_tree))
            pseudo = sel.pseudo_element
            if isinstance(pseudo, FunctionalPseudoElement) and pseudo.name == "attr":
                if pseudo.argument_types() not in (["IDENT"], ["STRING"]):
                    raise SelectorError(f"::attr() takes one name, got {pseudo.arguments!r}")
                name = str(pseudo.arguments[0].value)
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


def extract_regex(regex: Regex, text: str, replace_entities: bool = True) -> list[str]:
    """Matches of `regex` in `text` as parsel gives them.

    A group named ``extract`` gives its first match only; otherwise every match, flattened
    over numbered groups. Character references are then replaced, except ``&lt;`` and
    ``&amp;`` (so markup stays markup).
    """
    pattern = re.compile(regex) if isinstance(regex, str) else regex
    if "extract" in pattern.groupindex:
        match = pattern.search(text)
        found = match.group("extract") if match else None
        strings = [] if found is None else [found]
    else:
        strings = []
        for match in pattern.findall(text):
            if isinstance(match, tuple):
                strings.extend(match)
            else:
                strings.append(match)
    if not replace_entities:
        return strings
    return [_ENTITY.sub(_unescape, s) if "&" in s else s for s in strings]


def _unescape(match: re.Match[str]) -> str:
    return match.group(0) if match.group(1) in ("lt", "amp") else unescape(match.group(0))
