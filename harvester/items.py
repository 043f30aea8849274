"""Items: what callbacks yield besides requests (dicts or dataclass instances)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
from collections.abc import Mapping
from typing import Any

from harvester.request import Request


def is_item(value: object) -> bool:
    return isinstance(value, Mapping) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type) and not isinstance(value, Request)
    )


def as_dict(item: Any) -> dict[str, Any]:
    """A JSON-ready dict of an item: dataclasses expanded, dates and decimals as text."""
    data = dataclasses.asdict(item) if dataclasses.is_dataclass(item) else dict(item)
    return json.loads(json.dumps(data, default=_plain))


def _plain(value: object) -> object:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
