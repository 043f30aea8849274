"""Requests: what spiders yield and the frontier schedules.

A `Request` is a typed dataclass; every option the framework reads is a named
field, and `meta` belongs to the spider alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from harvester import schemes
from harvester.credentials import Login, split_userinfo
from harvester.exceptions import InvalidURL
from harvester.urls import fingerprint, parse

if TYPE_CHECKING:
    from harvester.response import Response

Callback = Callable[..., Any] | str | None


@dataclass(eq=False, init=False, slots=True)
class Request:
    """A URL to fetch, and what to do with its response.

    The URL is parsed as the WHATWG URL Standard says (as a browser would request it);
    one that does not parse, or whose scheme no transport of the crawl fetches (http, https,
    ftp, file, data and the spider's own `transports`: `harvester.schemes`), raises
    `InvalidURL` (a `ValueError`). `user:password@` in the URL is taken out and kept
    beside it, so no recorded URL carries it. A request is fetched once per run by its
    fingerprint unless `dont_filter` is set.

    Attributes:
        url: The absolute URL (`response.follow()` resolves a relative one).
        callback: The spider method (or its name) called with the response; default `parse`.
        method: The HTTP method, upper-cased.
        headers: Extra request headers. A request given its own `Cookie` header is sent with
            that one alone.
        body: The request body; a `str` is encoded as UTF-8.
        meta: The spider's own data, carried to `response.meta`; the framework reads nothing in it.
        priority: Higher is fetched first.
        dont_filter: Fetch it even when a request with the same fingerprint was seen in the run.
        cb_kwargs: Keyword arguments passed to the callback (kept as JSON in the frontier,
            so they survive `--resume`).
        errback: The spider method (or its name) called when the request fails.
        depth: Set by the framework: how many links away from a start request it is.
        credentials: Whether the configured `[auth]` login may be sent (turned off once a
            redirect leaves the origin).
        stream: Do not buffer a 2xx body: the callback reads `response.aiter_bytes()`
            (feed spiders use it).
        userinfo: The login taken out of the URL, for this request alone.
        proxy: The proxy this request goes through, `http://[user:password@]host:port` (or
            `https://`), over `[fetch] proxies`; its login is sent to the proxy alone
            (`Proxy-Authorization`) and never stored: a request resumed from the frontier keeps
            the proxy without it.

    Example:
        ```python
        yield Request("https://books.example/api?page=2", callback=self.parse_api,
                      headers={"Accept": "application/json"}, cb_kwargs={"page": 2})
        ```
    """

    url: str
    callback: Callback = None
    method: str = "GET"
    headers: Mapping[str, str] | None = None
    body: bytes | str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    dont_filter: bool = False
    cb_kwargs: dict[str, Any] = field(default_factory=dict)
    errback: Callback = None
    depth: int = 0  # set by the framework: links followed from the start requests
    credentials: bool = True  # configured auth; off once a redirect leaves the origin (cookies: the jar decides)
    stream: bool = False  # a 2xx body is not buffered: the callback reads `response.aiter_bytes()`
    # `user:password@` taken out of the URL: never in a recorded URL, never stored (harvester.credentials)
    userinfo: Login | None = field(default=None, repr=False)
    proxy: str | None = field(default=None, repr=False)  # a proxy URL for this request (harvester.middlewares)

    # Written out rather than generated: a page makes a dozen requests, and the generated
    # `__init__` (two default factories, then `__post_init__`) cost an eighth more.
    def __init__(
        self,
        url: str,
        callback: Callback = None,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        meta: dict[str, Any] | None = None,
        priority: int = 0,
        dont_filter: bool = False,
        cb_kwargs: dict[str, Any] | None = None,
        errback: Callback = None,
        depth: int = 0,
        credentials: bool = True,
        stream: bool = False,
        userinfo: Login | None = None,
        proxy: str | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise InvalidURL(f"a URL is a str, not {type(url).__name__}: {url!r}")
        url = parse(url)  # as a browser would request it; InvalidURL when it does not parse
        if "@" in url:
            url, login = split_userinfo(url)
            if login is not None:
                userinfo = login
        if not schemes.current().requestable(url):  # parsed: the scheme is in lower case
            raise InvalidURL(f"unsupported URL scheme in {url!r}", url)
        self.url = url
        self.callback = callback
        self.method = method if method == "GET" else method.upper()
        self.headers = headers
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.meta = {} if meta is None else meta
        self.priority = priority
        self.dont_filter = dont_filter
        self.cb_kwargs = {} if cb_kwargs is None else cb_kwargs
        self.errback = errback
        self.depth = depth
        self.credentials = credentials
        self.stream = stream
        self.userinfo = userinfo
        self.proxy = proxy

    @property
    def fingerprint(self) -> str:
        """The request's identity in a run: URL (RFC 3986 equivalents merged, fragment
        dropped, query arguments sorted), method, body, and the user name a URL's
        `user@` logs in with (never its password)."""
        user = self.userinfo.username if self.userinfo is not None else ""
        return fingerprint(self.url, self.method, self.body or b"", user)  # type: ignore[arg-type]

    def replace(self, **changes: Any) -> Request:
        """A copy with `changes` applied (always a plain `Request`)."""
        values = {f.name: getattr(self, f.name) for f in fields(Request)}
        return Request(**(values | changes))

    def __repr__(self) -> str:
        return f"<{self.method} {self.url}>"


class FormRequest(Request):
    """A request that submits `formdata`: urlencoded body for POST, query string for GET.

    Other keyword arguments are those of `Request`.

    Example:
        ```python
        yield FormRequest("https://shop.example/search", formdata={"q": "poetry"})
        yield FormRequest.from_response(response, formdata={"user": "me", "pass": "secret"},
                                        callback=self.after_login)
        ```
    """

    def __init__(
        self,
        url: str,
        formdata: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        pairs = list(formdata.items() if isinstance(formdata, Mapping) else formdata or [])
        encoded = urlencode(pairs, doseq=True)
        headers = dict(headers or {})
        body = None
        if method.upper() == "GET":
            parts = urlsplit(parse(url))
            query = "&".join(q for q in (parts.query, encoded) if q)
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        else:
            body = encoded.encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        super().__init__(url, method=method, headers=headers, body=body, **kwargs)

    @classmethod
    def from_response(
        cls,
        response: Response,
        formdata: Mapping[str, str] | None = None,
        formid: str | None = None,
        formname: str | None = None,
        formxpath: str | None = None,
        **kwargs: Any,
    ) -> FormRequest:
        """Fill the page's form (the first, or the one named) with `formdata` and submit it.

        The form's own fields (hidden inputs, checked boxes, selected options, the first
        submit button) are sent with `formdata` replacing those it names. The form is the
        first of the page, or the one with `formid`, `formname`, or selected by `formxpath`;
        `ValueError` when there is none. The method is the form's unless `method=` is given.
        """
        query = "//form"
        if formid:
            query = f"//form[@id={_xpath_literal(formid)}]"
        elif formname:
            query = f"//form[@name={_xpath_literal(formname)}]"
        elif formxpath:
            query = formxpath
        forms = response.xpath(query)
        if not forms:
            raise ValueError(f"no form matching {query!r} on {response.url}")
        form = forms[0]
        pairs: list[tuple[str, str]] = []
        submitted = False
        for node in form.xpath(".//input|.//select|.//textarea|.//button"):
            attrs = node.attrib
            name = attrs.get("name")
            if not name or "disabled" in attrs:
                continue
            tag = node.root.tag
            kind = attrs.get("type", "text").lower()
            if tag == "input" and kind in ("checkbox", "radio") and "checked" not in attrs:
                continue
            if kind in ("submit", "image", "reset") or tag == "button":
                if submitted or kind == "reset":
                    continue
                submitted = True
            if tag == "select":
                chosen = node.xpath(".//option[@selected]/@value").get() or node.xpath(".//option/@value").get()
                value = chosen or ""
            elif tag == "textarea":
                value = node.text
            else:
                value = attrs.get("value", "on" if kind in ("checkbox", "radio") else "")
            pairs.append((name, value))
        overrides = dict(formdata or {})
        pairs = [(k, v) for k, v in pairs if k not in overrides] + list(overrides.items())
        action_attr = form.attrib.get("action")
        action = response.urljoin(action_attr) if action_attr else response.url
        method = kwargs.pop("method", form.attrib.get("method", "GET")).upper()
        return cls(action, formdata=pairs, method=method, **kwargs)


def _xpath_literal(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "concat('" + value.replace("'", "', \"'\", '") + "')"
