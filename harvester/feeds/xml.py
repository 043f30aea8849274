"""Response -> records for XML feeds: `XMLFeedSpider` and the streaming node iterator.

The body is fed, chunk by chunk as it arrives, to an lxml pull parser that
never resolves entities, loads no DTD and touches no network (so neither XXE
nor an entity bomb gets anywhere). Each finished `itertag` element is handed
to `parse_node(response, node)` as a `Selector`, then cleared and unlinked
with the siblings before it, so memory stays flat however long the feed is.
White space before the XML declaration (blank lines are common in
feeds and sitemaps) is skipped, as browsers and Scrapy do.
Malformed XML ends the feed with a `ParseError` naming the record, line and
byte offset; the records before it have been yielded already.
"""

from __future__ import annotations

from codecs import BOM_UTF8
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from functools import partial
from typing import Any, ClassVar

from lxml import etree

from harvester.exceptions import ParseError
from harvester.feeds.base import FeedSpider
from harvester.feeds.body import charset_of, feed_bytes
from harvester.response import Response
from harvester.selector import Selector

XML_SPACE = b" \t\r\n"


class XMLFeedSpider(FeedSpider):
    """Streams `itertag` elements of XML feeds to `parse_node(response, node)`.

    `itertag` may carry a prefix declared in `namespaces` (pairs of prefix and
    URI, as in Scrapy): `itertag = "atom:entry"`; the node's XPath queries
    know the same prefixes.

    Entities are never expanded and no DTD is loaded. Each finished element is handed
    over and then freed, so memory stays flat however long the feed is.

    Example:
        ```python
        class News(XMLFeedSpider):
            name = "news"
            start_urls = ["https://news.example/rss.xml"]
            itertag = "item"

            def parse_node(self, response, node):
                yield {"title": node.xpath("title/text()").get(),
                       "link": node.xpath("link/text()").get()}
        ```
    """

    itertag: ClassVar[str] = "item"
    namespaces: ClassVar[Sequence[tuple[str, str]]] = ()

    def parse(self, response: Response) -> AsyncIterator[Any]:
        """Each `itertag` element to `parse_node`, as the bytes arrive; do not override."""
        namespaces = dict(self.namespaces)
        nodes = iter_nodes(self.watched(response), self.itertag, namespaces, self.encoding, self.record_limit())
        selector = partial(Selector, type="xml", namespaces=namespaces)
        return self.each_record(response, nodes, self.parse_node, wrap=selector)

    def parse_node(self, response: Response, node: Selector) -> Any:
        """Write this: called with each element as a `Selector`; yields items and requests."""
        raise NotImplementedError(f"{type(self).__name__}.parse_node is not defined")


def parser_for(tags: Sequence[str], encoding: str | None = None) -> etree.XMLPullParser:
    """A pull parser reporting the end of `tags` elements, safe against hostile XML."""
    return etree.XMLPullParser(
        events=("end",),
        tag=tags,
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def clark(tag: str, namespaces: dict[str, str]) -> str:
    """`prefix:name` as lxml's `{uri}name`; a bare name stays bare (no namespace)."""
    prefix, colon, name = tag.rpartition(":")
    if not colon or tag.startswith("{"):
        return tag
    if prefix not in namespaces:
        raise ValueError(f"itertag {tag!r}: prefix {prefix!r} is not in namespaces")
    return f"{{{namespaces[prefix]}}}{name}"


async def iter_nodes(
    response: Response,
    itertag: str | Sequence[str],
    namespaces: dict[str, str] | None = None,
    encoding: str | None = None,
    limit: int = 0,
    cap: int = 0,
) -> AsyncGenerator[Any, None]:
    """Each finished `itertag` element of the body, as it is parsed; released after use.

    The charset is the header's, else the document's own (BOM or declaration),
    else `encoding`, else UTF-8. `limit` bounds the bytes between two records
    and `cap` the whole uncompressed body (0: no bound).
    """
    tags = [clark(tag, namespaces or {}) for tag in ([itertag] if isinstance(itertag, str) else itertag)]
    parser: etree.XMLPullParser | None = None
    count = offset = since = 0
    failure: etree.XMLSyntaxError | None = None
    head = b""  # the opening, until it holds more than a BOM and white space
    async for chunk in feed_bytes(response, cap, what="XML document"):
        if parser is None:
            offset += len(chunk)
            head = _opening(head + chunk)
            if len(head) <= len(BOM_UTF8) and BOM_UTF8.startswith(head):
                continue
            offset -= len(head)
            chunk, head = head, b""
            parser = parser_for(tags, charset_of(response) or _undeclared(chunk, encoding))
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            failure = exc
        offset += len(chunk)
        since += len(chunk)
        for _, node in parser.read_events():
            count += 1
            since = 0
            yield node
            _release(node)
        if failure is not None:
            raise _malformed(response, failure, count, offset)
        if limit and since > limit:
            raise ParseError(f"XML record {count + 1} is over {limit} bytes", response.request)
    if parser is None:
        raise ParseError("empty XML document", response.request)
    try:
        parser.close()
    except etree.XMLSyntaxError as exc:
        failure = exc
    for _, node in parser.read_events():
        count += 1
        yield node
        _release(node)
    if failure is not None:
        raise _malformed(response, failure, count, offset)


def _release(node: Any) -> None:
    """Free a handled element and everything before it in its parent."""
    node.clear(keep_tail=True)
    parent = node.getparent()
    if parent is not None:
        while node.getprevious() is not None:
            del parent[0]


def _malformed(response: Response, exc: etree.XMLSyntaxError, count: int, offset: int) -> ParseError:
    line, column = exc.position if exc.position else (0, 0)
    reason = str(exc.msg or exc).split(", line ")[0].strip()
    where = f"line {line}, column {column}, " if line else ""
    return ParseError(
        f"malformed XML after record {count} ({where}within the first {offset} bytes): {reason}",
        response.request,
    )


def _opening(head: bytes) -> bytes:
    """`head` without the white space before its first markup (kept after a UTF-8 BOM).

    An XML declaration must open the document, but feeds and sitemaps are served
    with blank lines before it; browsers and Scrapy read them, and so do we.
    """
    bom = BOM_UTF8 if head.startswith(BOM_UTF8) else b""
    return bom + head[len(bom) :].lstrip(XML_SPACE)


def _undeclared(head: bytes, encoding: str | None) -> str | None:
    """`encoding`, when the document opening with `head` names no charset of its own."""
    if not encoding or head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None
    declaration = head[: head.find(b"?>")] if head.startswith(b"<?xml") else b""
    return None if b"encoding" in declaration else encoding
