"""The scheme registry: which URL schemes a crawl fetches, by which transport, under which policy.

Each transport declares its schemes as `Scheme` values (a class attribute
`schemes`): default port, whether URLs of the scheme name a host (then
`allowed_domains` applies), where links to it may be followed from, whether a
redirect may lead there and whether its hosts have a robots.txt. `Schemes`
gathers them; it is the one place `Request` (what can be requested),
admission (the scheduler), link extraction, robots and redirects ask.

The built-in registry holds http and https (httpx), ftp, file and data. The
composition root (`harvester.crawler`) builds a crawl's registry from it and
the spider's own `transports` (classes or dotted paths), and makes it the
current one of the task running the crawl (`current()`; outside a crawl, the
built-in one):

```python
class Memo(Spider):
    name = "memo"
    transports = ["memo_transport.MemoTransport"]   # a class with `schemes`, built as Cls(settings)
    start_urls = ["memo://notes/"]
```
"""

from __future__ import annotations

import contextvars
import enum
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harvester.exceptions import SpiderLoadError

if TYPE_CHECKING:
    from harvester.config import Settings
    from harvester.credentials import Credentials
    from harvester.transports.base import Transport
    from harvester.transports.file import FileRoots


class Follow(enum.StrEnum):
    """Where a link to a scheme, found on a page, is followed from (`Response.links()`, `LinkExtractor`)."""

    ANY_PAGE = "any_page"  # from every page (http, https)
    OWN_SCHEME = "own_scheme"  # only from a page of the same scheme (the entries of an ftp:// listing)
    NEVER = "never"  # never: only a request made on purpose fetches it (data:)


@dataclass(frozen=True)
class Scheme:
    """One URL scheme's policy, as its transport declares it.

    Attributes:
        name: The scheme, lower case, without `:` (`"ftp"`).
        default_port: The port a URL without one means, or None.
        has_host: URLs of the scheme name a host: `allowed_domains` applies to them, and
            politeness and logins are per host.
        follow: Where a link to it, found on a page, is followed from (`Follow`).
        confined: Fetched only when the operator gave it (start URLs, command line) or,
            found in a document of its own scheme, under a tree the operator gave (file:).
        redirect_target: A redirect may lead to it.
        robots: Its hosts have a robots.txt (RFC 9309), obeyed when `obey_robots` is on.
        speaks_http: Its transport sends HTTP requests with their headers: the cookie step
            (RFC 6265) and the login step (an `Authorization` header) apply to it.
    """

    name: str
    default_port: int | None = None
    has_host: bool = True
    follow: Follow = Follow.OWN_SCHEME
    confined: bool = False
    redirect_target: bool = False
    robots: bool = False
    speaks_http: bool = False


@dataclass(frozen=True)
class Opening:
    """What a built-in transport is built with when a crawl starts."""

    settings: Settings
    credentials: Credentials | None = None
    file_roots: FileRoots | None = None


Factory = Callable[[Opening], "Transport"]


@dataclass(frozen=True)
class _Entry:
    schemes: tuple[Scheme, ...]
    factory: Factory


@dataclass(frozen=True)
class Schemes:
    """The schemes of one crawl: each one's policy, and the transports that fetch them."""

    entries: tuple[_Entry, ...] = ()
    _by_name: Mapping[str, Scheme] = field(default_factory=dict, repr=False)
    _all: tuple[str, ...] = field(default=(), repr=False)  # "name:" of every scheme, for startswith
    _prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Scheme] = {}
        for entry in self.entries:
            for scheme in entry.schemes:
                by_name[scheme.name] = scheme  # a later transport takes a scheme over
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_all", tuple(f"{name}:" for name in by_name))

    @property
    def names(self) -> tuple[str, ...]:
        """The schemes that can be requested, sorted."""
        return tuple(sorted(self._by_name))

    def get(self, name: str) -> Scheme | None:
        """The policy of the scheme `name` (lower case), or None when no transport fetches it."""
        return self._by_name.get(name)

    def of(self, url: str) -> Scheme | None:
        """The policy of a parsed URL's scheme, or None when no transport fetches it."""
        return self._by_name.get(url.partition(":")[0].lower())

    def requestable(self, url: str) -> bool:
        """Whether a transport fetches `url` (a parsed URL: its scheme is in lower case)."""
        return url.startswith(self._all)

    def link_prefixes(self, page_url: str) -> tuple[str, ...]:
        """The `scheme:` prefixes of the links followed from the page at `page_url`."""
        own = page_url.partition(":")[0].lower()
        prefixes = self._prefixes.get(own)
        if prefixes is None:
            names = [s.name for s in self._by_name.values() if s.follow is Follow.ANY_PAGE]
            mine = self._by_name.get(own)
            if mine is not None and mine.follow is Follow.OWN_SCHEME and own not in names:
                names.append(own)
            prefixes = self._prefixes[own] = tuple(f"{name}:" for name in names)
        return prefixes

    def may_redirect_to(self, url: str) -> bool:
        """Whether a redirect may lead to `url`."""
        scheme = self.of(url)
        return scheme is not None and scheme.redirect_target

    def speaks_http(self, url: str) -> bool:
        """Whether `url` (a parsed URL) is fetched as HTTP: cookies and HTTP logins apply to it."""
        scheme = self._by_name.get(url.partition(":")[0])
        return scheme is not None and scheme.speaks_http

    def has_robots(self, name: str) -> bool:
        """Whether hosts of the scheme `name` have a robots.txt."""
        scheme = self._by_name.get(name.lower())
        return scheme is not None and scheme.robots

    def with_transports(self, transports: Iterable[type | str]) -> Schemes:
        """This registry and the transports given (classes or dotted paths), each built as `cls(settings)`.

        A class declares its schemes in a `schemes` attribute (`Scheme` values); a scheme
        it shares with an earlier transport is its own from then on. `SpiderLoadError` when a
        path does not import or a class declares no schemes.
        """
        added = [self._entry(transport) for transport in transports]
        return self if not added else Schemes((*self.entries, *added))

    def open(
        self, settings: Settings, credentials: Credentials | None = None, file_roots: FileRoots | None = None
    ) -> dict[str, Transport]:
        """A transport per scheme, each transport built once, for one crawl."""
        opening = Opening(settings, credentials, file_roots)
        transports: dict[str, Transport] = {}
        for entry in self.entries:
            mine = [s.name for s in entry.schemes if self._by_name.get(s.name) is s]
            if mine:
                transport = entry.factory(opening)
                transports.update(dict.fromkeys(mine, transport))
        return transports

    @staticmethod
    def _entry(transport: type | str) -> _Entry:
        cls = _load(transport) if isinstance(transport, str) else transport
        declared = tuple(getattr(cls, "schemes", ()))
        if not declared or not all(isinstance(s, Scheme) for s in declared):
            raise SpiderLoadError(f"transport {_name(cls)} declares no schemes (a `schemes` tuple of Scheme)")
        return _Entry(declared, lambda opening: cls(opening.settings))


def _load(path: str) -> type:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError, ValueError) as exc:
        raise SpiderLoadError(f"transport {path!r} cannot be loaded: {type(exc).__name__}: {exc}") from None


def _name(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"


# The http and https policy; the transport (httpx) is harvester.transports.http.
HTTP = Scheme("http", 80, follow=Follow.ANY_PAGE, redirect_target=True, robots=True, speaks_http=True)
HTTPS = Scheme("https", 443, follow=Follow.ANY_PAGE, redirect_target=True, robots=True, speaks_http=True)


def _http(opening: Opening) -> Transport:
    from harvester.transports.http import HttpTransport

    return HttpTransport(opening.settings)


def _ftp(opening: Opening) -> Transport:
    from harvester.transports.ftp import FtpTransport

    return FtpTransport(opening.settings, opening.credentials)


def _file(opening: Opening) -> Transport:
    from harvester.transports.file import FileTransport

    return FileTransport(opening.settings, opening.file_roots)


def _data(opening: Opening) -> Transport:
    from harvester.transports.data import DataTransport

    return DataTransport(opening.settings)


def builtin() -> Schemes:
    """The schemes Harvester fetches by itself: http, https, ftp, file and data."""
    return _BUILTIN or _build_builtin()


def _build_builtin() -> Schemes:
    global _BUILTIN  # noqa: PLW0603 - built once, on first use: the transports import Request, which asks here
    from harvester.transports.data import DataTransport
    from harvester.transports.file import FileTransport
    from harvester.transports.ftp import FtpTransport

    _BUILTIN = Schemes(
        (
            _Entry((HTTP, HTTPS), _http),
            _Entry(FtpTransport.schemes, _ftp),
            _Entry(FileTransport.schemes, _file),
            _Entry(DataTransport.schemes, _data),
        )
    )
    return _BUILTIN


_BUILTIN: Schemes | None = None


def for_spider(spider_cls: type) -> Schemes:
    """The registry of a crawl of `spider_cls`: the built-in schemes and the spider's `transports`."""
    return builtin().with_transports(getattr(spider_cls, "transports", ()) or ())


_current: contextvars.ContextVar[Schemes] = contextvars.ContextVar("harvester_schemes")


def current() -> Schemes:
    """The registry of the crawl running in this task (the built-in one outside a crawl)."""
    return _current.get(None) or _BUILTIN or _build_builtin()


def install(spider_cls: type) -> Schemes:
    """Build the registry of a crawl of `spider_cls` and make it current for the task running it."""
    registry = for_spider(spider_cls)
    _current.set(registry)
    return registry
