"""The fault barrier's vocabulary: whatever stopped one request, as an `errors` kind and message.

The engine handles each request inside a barrier: nothing raised on its trip
ends the run. What is raised becomes one `errors` row: `url` for an
`InvalidURL`, the kind a `FetchError` carries (`http`, `network`, `timeout`,
`too_large`, `redirect`, `forbidden`, `robots`, `parse`), or, for a foreign
exception, the kind of the step it escaped from:

    url       the URL cannot be parsed or requested as written (control characters,
              a malformed host or port, a scheme Harvester does not fetch)
    request   the request could not be sent: a header, cookie, auth or body refused
    network   the transport failed before a response
    spider    a callback or errback raised, returned or yielded something that is not
              a Request or an item, named a callback the spider lacks, or yielded a
              request that cannot be queued
    parse     the callback could not read the body (undecodable text, bad JSON or markup)
    pipeline  a pipeline raised (recorded by `harvester.pipeline`)
    internal  a fault in Harvester itself while handling the request

Only a failure of the run itself (its database: `DatabaseError`) is not kept in.
"""

from __future__ import annotations

import enum
import json
from typing import Literal

import httpx
from lxml import etree

from harvester.exceptions import FetchError, InvalidURL
from harvester.serialize import NotSerializable

Stage = Literal["fetch", "callback", "queue", "engine"]


class Kind(enum.StrEnum):
    URL = "url"
    REQUEST = "request"
    NETWORK = "network"
    SPIDER = "spider"
    PARSE = "parse"
    PIPELINE = "pipeline"
    INTERNAL = "internal"


_URL_ERRORS = (InvalidURL, httpx.InvalidURL, httpx.UnsupportedProtocol)
_PARSE_ERRORS = (UnicodeDecodeError, json.JSONDecodeError, etree.LxmlError)
_NETWORK_ERRORS = (httpx.TransportError, OSError)


def kind_of(exc: BaseException, stage: Stage) -> str:
    """The `errors` kind of `exc`, raised in `stage` of a request's trip."""
    if isinstance(exc, _URL_ERRORS):
        return Kind.URL
    if isinstance(exc, FetchError):
        return exc.kind
    if stage == "fetch":
        return Kind.NETWORK if isinstance(exc, _NETWORK_ERRORS) else Kind.REQUEST
    if stage == "queue":  # admitting a request parses its URL; a request that cannot be stored is the spider's
        return Kind.SPIDER if isinstance(exc, NotSerializable) else Kind.URL
    if stage == "callback":
        return Kind.PARSE if isinstance(exc, _PARSE_ERRORS) else Kind.SPIDER
    return Kind.NETWORK if isinstance(exc, _NETWORK_ERRORS) else Kind.INTERNAL


def describe(exc: BaseException, where: str = "") -> str:
    """A one-line message for an `errors` row: where, the exception's type, its text."""
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, FetchError) else str(exc)
    return f"{where}: {text}" if where else text
