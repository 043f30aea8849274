"""URL canonicalization and request fingerprints: the frontier's dedupe identity.

Two URLs that name the same page (a `#fragment`, reordered query arguments,
an explicit default port, an upper-case host) canonicalize to one string, and
the fingerprint of a request hashes that string with its method and body.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"


# An http(s) URL already in canonical form: lower-case host, a path of characters
# that need no quoting, no query, fragment, user or trailing dot. Most links are.
_CANONICAL = re.compile(r"(https?)://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::([1-9][0-9]{0,4}))?/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


def canonicalize(url: str) -> str:
    """The canonical form of `url`: fragment dropped, query sorted, default port removed."""
    plain = _CANONICAL.fullmatch(url)
    if plain is not None and (plain[2] is None or DEFAULT_PORTS[plain[1]] != int(plain[2]) <= 65535):
        return url
    return _canonicalize(url)


@lru_cache(maxsize=4096)
def _canonicalize(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    path = quote(parts.path, safe=_SAFE_PATH) or ("/" if scheme in DEFAULT_PORTS else "")
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode(sorted(pairs), quote_via=quote, safe="/:@!$'()*,;~")
    return urlunsplit((scheme, netloc, path, query, ""))


def fingerprint(url: str, method: str = "GET", body: bytes = b"") -> str:
    """A stable hex digest naming one request for dedupe."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(method.upper().encode())
    digest.update(b" ")
    digest.update(canonicalize(url).encode())
    if body:
        digest.update(b"\n")
        digest.update(body)
    return digest.hexdigest()


def host_of(url: str) -> str:
    """`host` or `host:port` of a URL, as used for per-host politeness and auth."""
    return _host(url.partition(":")[0].lower(), _netloc(url))


def hostname_of(url: str) -> str:
    """The lower-case host name of a URL, without port or brackets."""
    return _hostname(_netloc(url))


def _netloc(url: str) -> str:
    return url.partition("://")[2].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]


@lru_cache(maxsize=4096)
def _hostname(netloc: str) -> str:
    return (urlsplit(f"//{netloc}").hostname or "").lower()


@lru_cache(maxsize=4096)
def _host(scheme: str, netloc: str) -> str:
    parts = urlsplit(f"{scheme}://{netloc}")
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        return f"{host}:{port}"
    return host


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def domain_allowed(url: str, allowed_domains: list[str] | tuple[str, ...]) -> bool:
    """True when the URL's host is one of `allowed_domains` or a subdomain of one."""
    if not allowed_domains:
        return True
    host = hostname_of(url)
    for domain in allowed_domains:
        domain = domain.lower().split(":")[0]
        if host == domain or host.endswith("." + domain):
            return True
    return False
