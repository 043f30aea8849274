"""Admission to the frontier: what a spider yields is checked here before it is queued.

Start requests come from the operator; requests found in fetched documents
are checked by the policy of their scheme (`harvester.schemes`):
`allowed_domains` for every scheme whose URLs name a host (http, https, ftp,
a project's own), the depth limit, and the fetch-safety rule of a confined
scheme (file:): its URL is only ever fetched when the operator gave it, or
when found in a document of its own scheme under a directory the operator
gave (the roots, kept with the run so a resume still knows them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from harvester import schemes as scheme_registry
from harvester.events import Events, RequestFiltered, RequestScheduled
from harvester.exceptions import InvalidURL
from harvester.frontier import FoundRow, Frontier
from harvester.outcome import DoneMark
from harvester.request import Request
from harvester.transports.file import FileRoots
from harvester.urls import domain_allowed


class Scheduler:
    def __init__(
        self,
        frontier: Frontier,
        allowed_domains: Sequence[str] = (),
        depth_limit: int = 0,
        events: Events | None = None,
        file_roots: FileRoots | None = None,
        schemes: scheme_registry.Schemes | None = None,
    ) -> None:
        self.frontier = frontier
        self.schemes = schemes if schemes is not None else scheme_registry.current()
        self.allowed_domains = tuple(allowed_domains)
        self.depth_limit = depth_limit
        self.events = Events() if events is None else events  # RequestScheduled, RequestFiltered
        self._file_roots = FileRoots() if file_roots is None else file_roots  # shared with the file transport

    def add_start(self, request: Request) -> FoundRow | None:
        """Queue a request the operator gave (start URLs, command line, config): its frontier row, or None.

        Raises InvalidURL for a URL that cannot be requested as written (also in `add_found`).
        """
        _check_requestable(request.url)
        scheme = self.schemes.of(request.url)
        if scheme is None:
            raise InvalidURL(f"unsupported URL scheme in {request.url!r}", request.url)
        if scheme.confined:
            self._file_roots.add(request.url)
        return self._push(request)

    def add_found(self, request: Request, parent: Request | None) -> FoundRow | None:
        """Queue a request a callback yielded while handling `parent`'s response: its frontier row, or None.

        The row goes into the outcome of `parent` (`harvester.outcome`), written with it.
        """
        request.depth = (parent.depth + 1) if parent is not None else 0
        # Its URL was parsed by `Request` (WHATWG): no control character, a valid host and port.
        scheme = self.schemes.of(request.url)
        if scheme is None:
            self._filter(request, "unsafe_scheme")
            return None  # no transport of this crawl fetches it
        if scheme.confined:
            from_own = parent is not None and self.schemes.of(parent.url) is scheme
            if not (from_own and self._under_file_root(request.url)):
                self._filter(request, "unsafe_scheme")
                return None
        if scheme.has_host and not domain_allowed(request.url, self.allowed_domains):
            self._filter(request, "offsite")
            return None
        if self.depth_limit and request.depth > self.depth_limit:
            self._filter(request, "depth")
            return None
        return self._push(request)

    def _under_file_root(self, url: str) -> bool:
        """A file:// URL found in a document is fetched only inside a tree the operator gave,
        compared by real path (decoded, `..` and symlinks resolved): `harvester.transports.file`."""
        return self._file_roots.admits(url)

    def _push(self, request: Request) -> FoundRow | None:
        row = self.frontier.push(request)
        if row is not None:
            if self.events.wants(RequestScheduled):
                self.events.emit(RequestScheduled(request))
            return row
        self.events.emit(RequestFiltered(request, "duplicate"))  # a dozen a page: emitted here, not via _filter
        return None

    def _filter(self, request: Request, reason: str) -> None:
        self.events.emit(RequestFiltered(request, reason))

    async def next(self) -> Request | None:
        return await self.frontier.next()

    def check(self, request: Request) -> None:
        """Raise InvalidURL for a request no transport of this crawl can send (one an earlier
        version queued: `Request` parsed its URL again as it was read back)."""
        if self.schemes.of(request.url) is None:
            raise InvalidURL(f"unsupported URL scheme in {request.url!r}", request.url)

    def source_of(self, request: Request) -> int | None:
        return self.frontier.row_id(request)

    def done(self, request: Request) -> DoneMark | None:
        """A request is finished: its done mark, written with its outcome."""
        return self.frontier.done(request)

    async def others_busy(self) -> bool:
        return await self.frontier.others_busy()

    async def size(self) -> int:
        return await self.frontier.size()


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_requestable(url: str) -> None:
    """Refuse a URL no transport can send as written: control characters, a malformed host or port."""
    control = _CONTROL.search(url)
    if control:
        raise InvalidURL(f"control character {control.group()!r} at position {control.start()} of the URL", url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed here: ValueError when out of range or not a number
    except ValueError as exc:
        raise InvalidURL(f"{exc} (the host or port)", url) from None
    if " " in parts.netloc.rpartition("@")[2]:
        raise InvalidURL(f"space in the host {parts.netloc!r}", url)
