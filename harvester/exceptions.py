"""Every error Harvester raises, rooted in one class.

    HarvesterError
    ├── ConfigError            bad harvester.toml, -s override or command-line value
    ├── SpiderNotFound         no spider of that name in the project
    ├── SpiderLoadError        a spider or pipeline module failed to import
    ├── CloseSpider            raised by a callback to close the run (its reason is recorded)
    ├── DatabaseError          unreachable database, or one at an older revision
    ├── QueryError             bad SQL or filter given to `harvester query`
    ├── DropItem               raised by a pipeline to drop an item
    ├── InvalidURL             a URL the WHATWG URL parser rejects, or of a scheme not fetched (also a ValueError)
    └── FetchError             a request ended without a usable response
        ├── NetworkError       connection refused, reset, DNS ...
        ├── FetchTimeout       the fetch deadline passed
        ├── HttpError          status >= 400 after retries
        ├── TooLarge           body (or decoded body) over max_size
        ├── Truncated          a compressed body that ended early (its readable part was used)
        ├── RedirectError      redirect loop, too many hops, or a forbidden target
        ├── Forbidden          refused before fetching (no transport for the scheme)
        ├── RobotsDisallowed   refused by the site's robots.txt
        └── ParseError         a body that stops parsing part-way (malformed XML, JSON, CSV)

Fetch errors carry the request they concern and a short `kind`, which is
what the `errors` table records. A feed spider raises `ParseError` from its
callback after yielding the records before the fault, so those are kept and
the error is recorded with kind `parse`. Every kind an `errors` row may hold
is an `ErrorKind`.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harvester.request import Request


class ErrorKind(enum.StrEnum):
    """The `kind` of an `errors` row (the value is what the database holds).

    A fetch error's kind (`url` ... `interrupted`), the step a foreign exception
    escaped from (`request`, `spider`, `parse`, `internal`), and what pipelines
    record: `pipeline` (a pipeline raised), `validate` (an invalid item dropped),
    `report` (the email report could not be sent).
    """

    URL = "url"
    FETCH = "fetch"
    NETWORK = "network"
    TIMEOUT = "timeout"
    HTTP = "http"
    TOO_LARGE = "too_large"
    TRUNCATED = "truncated"
    REDIRECT = "redirect"
    FORBIDDEN = "forbidden"
    ROBOTS = "robots"
    PARSE = "parse"
    INTERRUPTED = "interrupted"
    REQUEST = "request"
    SPIDER = "spider"
    INTERNAL = "internal"
    PIPELINE = "pipeline"
    VALIDATE = "validate"
    REPORT = "report"


class HarvesterError(Exception):
    """Root of every Harvester error."""


class ConfigError(HarvesterError):
    pass


class SpiderNotFound(HarvesterError):
    pass


class SpiderLoadError(HarvesterError):
    pass


class DatabaseError(HarvesterError):
    pass


class QueryError(HarvesterError):
    pass


class DropItem(HarvesterError):
    """Raise from `process_item` to drop the item; the message is the reason."""


class InvalidURL(HarvesterError, ValueError):
    """A URL that does not parse (WHATWG URL Standard), or whose scheme Harvester does not fetch."""

    kind: ErrorKind = ErrorKind.URL

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(hide_userinfo(message))  # recorded and shown: a password in it never is
        self.url = hide_userinfo(url)


class FetchError(HarvesterError):
    kind: ErrorKind = ErrorKind.FETCH

    def __init__(self, message: str, request: Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class NetworkError(FetchError):
    kind: ErrorKind = ErrorKind.NETWORK


class FetchTimeout(FetchError):
    kind: ErrorKind = ErrorKind.TIMEOUT


class HttpError(FetchError):
    kind: ErrorKind = ErrorKind.HTTP

    def __init__(self, message: str, request: Request | None = None, status: int = 0) -> None:
        super().__init__(message, request)
        self.status = status


class TooLarge(FetchError):
    kind: ErrorKind = ErrorKind.TOO_LARGE


class Truncated(FetchError):
    kind: ErrorKind = ErrorKind.TRUNCATED


class RedirectError(FetchError):
    kind: ErrorKind = ErrorKind.REDIRECT


class Forbidden(FetchError):
    kind: ErrorKind = ErrorKind.FORBIDDEN


class RobotsDisallowed(FetchError):
    kind: ErrorKind = ErrorKind.ROBOTS


class ParseError(FetchError):
    """The body could not be parsed past some point; the message names the record, line or byte."""

    kind: ErrorKind = ErrorKind.PARSE


class CloseSpider(HarvesterError):
    """Raise from a callback to close the run: no new requests, those in flight finish.

    The run ends `finished`, and `reason` is recorded as its `close_reason`.
    """

    def __init__(self, reason: str = "cancelled") -> None:
        super().__init__(reason)
        self.reason = reason


_USERINFO = re.compile(r"(?<=//)[^/?#\\\s'\"@]*@")


def hide_userinfo(text: str) -> str:
    """`text` with the `user:password@` of every URL in it written `***@`."""
    return _USERINFO.sub("***@", text) if "@" in text else text
