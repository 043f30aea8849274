"""Requests: what spiders yield and the frontier schedules.

A `Request` is a typed dataclass; every option the framework reads is a named
field, and `meta` belongs to the spider alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from harvester.urls import fingerprint

if TYPE_CHECKING:
    from harvester.response import Response

Callback = Callable[..., Any] | str | None


@dataclass(eq=False)
class Request:
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
    credentials: bool = True  # the jar's cookies and configured auth; off once a redirect leaves the origin
    stream: bool = False  # a 2xx body is not buffered: the callback reads `response.aiter_bytes()`

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if isinstance(self.body, str):
            self.body = self.body.encode("utf-8")
        if self.meta is None:
            self.meta = {}
        if self.cb_kwargs is None:
            self.cb_kwargs = {}
        scheme = self.url.partition(":")[0].lower()
        if scheme not in ("http", "https", "ftp", "file"):
            raise ValueError(f"unsupported URL scheme in {self.url!r}")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.url, self.method, self.body or b"")  # type: ignore[arg-type]

    def replace(self, **changes: Any) -> Request:
        """A copy with `changes` applied (always a plain `Request`)."""
        values = {f.name: getattr(self, f.name) for f in fields(Request)}
        return Request(**(values | changes))

    def __repr__(self) -> str:
        return f"<{self.method} {self.url}>"


class FormRequest(Request):
    """A request that submits `formdata`: urlencoded body for POST, query string for GET."""

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
            parts = urlsplit(url)
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
        """Fill the page's form (the first, or the one named) with `formdata` and submit it."""
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
