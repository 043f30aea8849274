"""The run's cookie jar: RFC 6265 domain and path rules, public suffixes refused.

The stdlib `http.cookiejar` applies the domain, path, expiry and `Secure`
rules; on top of it a cookie whose `Domain` is a public suffix (`co.uk`,
`github.io`, ...) is refused, so one site cannot set cookies for its
neighbours. The public suffix list ships with the `publicsuffixlist` package.
"""

from __future__ import annotations

import http.cookiejar
from functools import lru_cache

import httpx
from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


class _Policy(http.cookiejar.DefaultCookiePolicy):
    def set_ok_domain(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        if not super().set_ok_domain(cookie, request):  # type: ignore[arg-type]
            return False
        if cookie.domain_specified:
            domain = cookie.domain.lstrip(".").lower()
            host = http.cookiejar.request_host(request).lower()  # type: ignore[arg-type]
            if domain != host and _suffixes().is_public(domain):
                return False
        return True


class CookieJar:
    """One jar for every request of a run, whichever connection pool sends it."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar(policy=_Policy())
        self._cookies = httpx.Cookies(self.jar)

    def add_header(self, request: httpx.Request) -> None:
        """Set the `Cookie` header the jar holds for this request's URL (if any)."""
        if len(self.jar):
            self._cookies.set_cookie_header(request)

    def extract(self, response: httpx.Response) -> None:
        """Store the cookies a response sets, as the rules allow."""
        if "set-cookie" in response.headers:
            self._cookies.extract_cookies(response)

    def __len__(self) -> int:
        return len(self.jar)
