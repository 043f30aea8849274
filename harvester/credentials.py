"""Credentials bound to an origin: `[auth]` entries and URL userinfo, for the login step and FTP.

An `[auth."KEY"]` key is an origin, `scheme://host[:port]`, and its
credentials go to exactly that origin: `https://intranet.example.org`,
`http://127.0.0.1:8080`, `ftp://files.example.org`. A bare host means its
https origin only (never cleartext http or ftp); `host:port` without a scheme
is refused, as it could mean either. Default ports are dropped, so
`https://h:443` and `https://h` are one origin.

Userinfo in a URL (`http://user:pw@host/`) is taken out of the URL when the
`Request` is built (`split_userinfo`) and travels beside it, never in it, so
no URL that is recorded, logged, printed or mailed carries a password, and
the frontier (which stores URLs) never holds one. Userinfo in a spider's
`start_urls` is the login of its origin for the whole run; the crawler gives
them here again on `--resume`, since the database never held them. Userinfo
in any other URL is the login of that request alone (and of its redirects
while they stay on its origin).

One `Credentials` per run answers for every request: the login step
(`harvester.fetching.auth`) sends an http(s) request's login as its
`Authorization` header, and the ftp transport logs in with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from harvester.urls import DEFAULT_PORTS

if TYPE_CHECKING:
    from harvester.config import Settings
    from harvester.request import Request

AUTH_SCHEMES = ("http", "https", "ftp")


@dataclass(frozen=True)
class Login:
    """A user name and password for one origin; `scheme` is basic or digest for http(s)."""

    username: str
    password: str = ""
    scheme: str = "basic"

    def __repr__(self) -> str:  # never a password in a log or traceback
        return f"Login({self.username!r}, scheme={self.scheme!r})"


def auth_origin(key: str) -> str:
    """The origin an `[auth."KEY"]` key names, as `origin_of` spells it; ValueError if none."""
    text = key.strip()
    if "://" not in text:
        after_host = text.partition("]")[2] if text.startswith("[") else text  # past an IPv6 literal
        if ":" in after_host:
            raise ValueError(
                f'[auth."{key}"]: a key is an origin, scheme://host[:port]; write '
                f'"https://{text}" or "http://{text}" for the one the credentials are meant for'
            )
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in AUTH_SCHEMES:
        raise ValueError(f'[auth."{key}"]: the origin must be http://, https:// or ftp://')
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f'[auth."{key}"]: a key is an origin, scheme://host[:port], without path or user')
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f'[auth."{key}"]: bad port') from None
    if not parts.hostname:
        raise ValueError(f'[auth."{key}"]: no host')
    return _origin(scheme, parts.hostname, port)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower case, default port dropped ("" if it has no host)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return ""
    return _origin(parts.scheme.lower(), parts.hostname or "", port)


def _origin(scheme: str, host: str, port: int | None) -> str:
    host = host.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def split_userinfo(url: str) -> tuple[str, Login | None]:
    """`url` without its `user:password@`, and that login (percent-decoded), if it had one."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None
    end = len(rest)
    for delimiter in "/?#\\":
        index = rest.find(delimiter)
        if index != -1:
            end = min(end, index)
    authority = rest[:end]
    if "@" not in authority:
        return url, None
    userinfo, _, host = authority.rpartition("@")
    user, _, password = userinfo.partition(":")
    login = Login(unquote(user), unquote(password)) if user or password else None
    return f"{scheme}://{host}{rest[end:]}", login


class Credentials:
    """Who logs in where: the origin of each request decides, and nothing else."""

    def __init__(self, settings: Settings, start_urls: Iterable[str] = ()) -> None:
        self._logins: dict[str, Login] = {}
        for origin, entry in settings.auth.items():  # keys are origins already (config checked them)
            if entry.username:
                password = settings.secret(entry.password_env) or ""
                self._logins[origin] = Login(entry.username, password, entry.scheme)
        for url in start_urls:  # the operator's: the login of their origin, over [auth]
            bare, login = split_userinfo(url) if isinstance(url, str) else (url, None)
            if login is not None:
                self._logins[origin_of(bare)] = login

    def for_request(self, request: Request) -> Login | None:
        """The login to send with `request`: its own userinfo, else its origin's, else None."""
        if not request.credentials:  # a redirect left the origin the request was meant for
            return None
        if request.userinfo is not None:
            return request.userinfo
        if not self._logins:  # no [auth] entry, no start URL login: nothing to look up
            return None
        return self._logins.get(origin_of(request.url))
