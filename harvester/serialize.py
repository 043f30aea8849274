"""Requests as JSON, for the persistent frontier: callbacks by name, no pickle anywhere.

A callback must be a method of the spider (or its name); `meta` and
`cb_kwargs` must hold JSON values. A request that cannot be written this way
is refused with a clear message rather than stored half-way.
"""

from __future__ import annotations

import base64
import json
from dataclasses import fields
from typing import Any

from harvester.credentials import split_userinfo
from harvester.request import Request


class NotSerializable(ValueError):
    pass


_FIELDS = frozenset(field.name for field in fields(Request))


def request_to_json(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"url": request.url}
    if request.method != "GET":
        data["method"] = request.method
    if request.headers:
        data["headers"] = dict(request.headers)
    if request.body:
        data["body"] = base64.b64encode(request.body).decode()  # type: ignore[arg-type]
    for name in ("callback", "errback"):
        value = getattr(request, name)
        if value is not None:
            data[name] = _callable_name(value, name, request)
    for name in ("meta", "cb_kwargs"):
        value = getattr(request, name)
        if value:
            data[name] = _json_value(value, name, request)
    if request.proxy:
        data["proxy"] = split_userinfo(request.proxy)[0]  # a proxy's login is never stored
    for name, default in (
        ("priority", 0),
        ("depth", 0),
        ("dont_filter", False),
        ("credentials", True),
        ("stream", False),
    ):
        value = getattr(request, name)
        if value != default:
            data[name] = value
    return data


def request_from_json(data: dict[str, Any]) -> Request:
    """The request stored as `data`; it never raises for what an earlier version stored.

    A field this version lacks is dropped. A URL it would refuse (a frontier
    written by an earlier version, then `--resume`) is kept as stored: fetching
    it fails, and the fault barrier records that as one error row, where
    refusing it here would fail the claim of a whole batch.
    """
    values = {name: value for name, value in data.items() if name in _FIELDS}
    if "body" in values:
        values["body"] = base64.b64decode(values["body"])
    try:
        return Request(**values)
    except ValueError:
        request = Request(**{**values, "url": "http://refused.invalid/"})
        request.url = str(values.get("url", ""))
        return request


def _callable_name(value: Any, field: str, request: Request) -> str:
    if isinstance(value, str):
        return value
    owner = getattr(value, "__self__", None)
    name = getattr(value, "__name__", "")
    if owner is None or not name or getattr(owner, name, None) is None:
        raise NotSerializable(f"{request.url}: {field} {value!r} is not a method of the spider")
    return name


def _json_value(value: Any, field: str, request: Request) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise NotSerializable(f"{request.url}: {field} is not JSON: {exc}") from None
