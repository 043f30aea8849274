"""The run's cookie store: RFC 6265 §5.3 (storage) and §5.4 (the `Cookie` header).

One store per run holds every cookie the servers set, keyed by domain, name
and path. A cookie without `Domain` is host-only: it goes back to exactly the
host that set it. A `Domain` cookie goes to that domain and its subdomains,
unless the domain is a public suffix (`co.uk`, `github.io`: the list ships
with the `publicsuffixlist` package), and an IP address domain-matches only
itself (§5.1.3). Cookies are not kept apart by port or scheme (§8.5), except
that a `Secure` one goes only over https, and, as browsers do (RFC 6265bis),
is set only by an https response.

Bounds (§6.1 sets minimums; these are what browsers hold): 180 cookies per
domain and 3000 in all, the least recently used evicted first; a `Cookie`
header of at most 8 KiB, since servers commonly refuse longer header lines
(Apache 8190 bytes, nginx 8 KiB): the cookies that come first in the
header's order are the ones sent.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import httpx
from publicsuffixlist import PublicSuffixList

from harvester.cookies.setcookie import SetCookie, ascii_lower, parse_set_cookie

MAX_PER_DOMAIN = 180
MAX_COOKIES = 3000
MAX_HEADER = 8 * 1024  # bytes of the Cookie header's value


@dataclass(slots=True)
class Cookie:
    name: str
    value: str
    domain: str  # lower case; for a host-only cookie, the host that set it
    path: str
    expires: float  # seconds since the epoch; inf for a session cookie
    created: int  # the store's sequence number: the header's order among equal paths
    host_only: bool
    secure: bool


Key = tuple[str, str]  # (name, path) within a domain


class CookieStore:
    """Cookies by domain; `now` is the clock (seconds since the epoch)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._domains: dict[str, OrderedDict[Key, Cookie]] = {}  # each in order of last use
        self._used: OrderedDict[tuple[str, str, str], None] = OrderedDict()  # all, by last use
        self._created = 0
        self._next_expiry = math.inf

    def __len__(self) -> int:
        return len(self._used)

    def set(self, header: str, scheme: str, host: str, path: str) -> Cookie | None:
        """Store what one `Set-Cookie` value sets for a response from `scheme://host/path`.

        Returns the cookie stored, or None when the header stored nothing (ignored, or a deletion).
        """
        parsed = parse_set_cookie(header)
        if parsed is None or parsed.secure and scheme != "https":
            return None  # as browsers (RFC 6265bis §5.7): only a secure origin sets a Secure cookie
        return self.store(parsed, host, path)

    def store(self, parsed: SetCookie, host: str, path: str) -> Cookie | None:
        """§5.3: store a parsed cookie received from `host` for a request to `path`."""
        now = self._now()
        if parsed.max_age is not None:
            expires = now + parsed.max_age if parsed.max_age > 0 else -math.inf
        elif parsed.expires is not None:
            expires = parsed.expires.timestamp()
        else:
            expires = math.inf
        domain = _canonical(parsed.domain or "")
        if domain is None:
            return None
        if domain and not _is_ip(domain) and _suffixes().is_public(domain):
            if domain != host:
                return None
            domain = ""  # a public suffix may set a cookie for itself alone
        if domain and not domain_match(host, domain):
            return None
        cookie = Cookie(
            parsed.name,
            parsed.value,
            domain or host,
            parsed.path or default_path(path),
            expires,
            self._created,
            not domain,
            parsed.secure,
        )
        self._created += 1
        bucket = self._domains.setdefault(cookie.domain, OrderedDict())
        old = bucket.pop((cookie.name, cookie.path), None)
        if old is not None:
            cookie.created = old.created
            del self._used[(cookie.domain, cookie.name, cookie.path)]
        if expires <= now:  # Max-Age=0 or a date in the past: a deletion
            if not bucket:
                del self._domains[cookie.domain]
            return None
        bucket[(cookie.name, cookie.path)] = cookie
        self._used[(cookie.domain, cookie.name, cookie.path)] = None
        self._next_expiry = min(self._next_expiry, expires)
        self._evict(bucket)
        return cookie

    def header(self, scheme: str, host: str, path: str) -> str | None:
        """The `Cookie` header value for a request to `scheme://host/path`, or None."""
        if not self._used:
            return None
        now = self._now()
        if now >= self._next_expiry:
            self._purge(now)
        found: list[Cookie] = []
        for domain in _domains_of(host):
            bucket = self._domains.get(domain)
            if bucket is None:
                continue
            for cookie in bucket.values():
                if (
                    (not cookie.host_only or domain == host)
                    and path_match(path, cookie.path)
                    and (scheme == "https" or not cookie.secure)
                ):
                    found.append(cookie)
        if not found:
            return None
        found.sort(key=lambda c: (-len(c.path), c.created))
        parts: list[str] = []
        size = -2
        for cookie in found:
            part = f"{cookie.name}={cookie.value}"
            if size + 2 + len(part) > MAX_HEADER:
                continue
            size += 2 + len(part)
            parts.append(part)
            self._domains[cookie.domain].move_to_end((cookie.name, cookie.path))
            self._used.move_to_end((cookie.domain, cookie.name, cookie.path))
        return "; ".join(parts) or None

    def _evict(self, bucket: OrderedDict[Key, Cookie]) -> None:
        """Keep the bounds: expired cookies go first, then the least recently used."""
        if len(bucket) <= MAX_PER_DOMAIN and len(self._used) <= MAX_COOKIES:
            return
        if self._now() >= self._next_expiry:
            self._purge(self._now())
        while len(bucket) > MAX_PER_DOMAIN:
            _, cookie = bucket.popitem(last=False)
            del self._used[(cookie.domain, cookie.name, cookie.path)]
        while len(self._used) > MAX_COOKIES:
            domain, name, path = self._used.popitem(last=False)[0]
            self._forget(domain, (name, path))

    def _purge(self, now: float) -> None:
        """Drop every expired cookie (§5.3: none may linger)."""
        self._next_expiry = math.inf
        for domain, bucket in list(self._domains.items()):
            for key, cookie in list(bucket.items()):
                if cookie.expires <= now:
                    del self._used[(domain, *key)]
                    self._forget(domain, key)
                else:
                    self._next_expiry = min(self._next_expiry, cookie.expires)

    def _forget(self, domain: str, key: Key) -> None:
        bucket = self._domains[domain]
        bucket.pop(key, None)
        if not bucket:
            del self._domains[domain]


def domain_match(host: str, domain: str) -> bool:
    """§5.1.3: `host` is `domain`, or a host name (not an IP address) under it."""
    return host == domain or host.endswith("." + domain) and not _is_ip(host)


def path_match(request_path: str, cookie_path: str) -> bool:
    """§5.1.4: the cookie's path is the request's, or a directory prefix of it."""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (cookie_path.endswith("/") or request_path[len(cookie_path)] == "/")


def default_path(path: str) -> str:
    """§5.1.4: the directory of the request path (without its last `/`), or `/`."""
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rindex("/")]


def _domains_of(host: str) -> list[str]:
    """`host` and, for a host name, each domain above it: the buckets a request may draw from."""
    if _is_ip(host):
        return [host]
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels)) if labels[i]]


@lru_cache(maxsize=4096)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _canonical(domain: str) -> str | None:
    """A Domain attribute as a host name in ASCII (IDNA), or None when it cannot be one."""
    if domain.isascii():
        return domain
    try:
        text = domain.encode("latin-1").decode("utf-8")
        return ascii_lower(httpx.URL(f"http://{text}/").raw_host.decode("ascii"))
    except (UnicodeError, ValueError, httpx.InvalidURL):
        return None


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()
