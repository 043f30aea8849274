"""Items: what callbacks yield besides requests (dicts or dataclass instances)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from harvester.request import Request


def is_item(value: object) -> bool:
    return (
        type(value) is dict
        or isinstance(value, Mapping)
        or (dataclasses.is_dataclass(value) and not isinstance(value, type) and not isinstance(value, Request))
    )


def as_dict(item: Any, scrub_nul: bool = True) -> dict[str, Any]:
    """A JSON-ready dict of an item: the one form the store, exports, query and reports all see.

    Dataclasses are expanded, dates and decimals become text. Text no
    database or file can hold is replaced here, once: NUL and lone surrogates
    (half a UTF-16 pair, such as JSON's `"\\ud800"`, which UTF-8 cannot
    encode) become U+FFFD, and NaN and infinities become null (JSON has
    neither). `scrub_nul` is kept for older callers: every item is scrubbed.
    """
    if type(item) is not dict and dataclasses.is_dataclass(item) and not isinstance(item, type):
        data = dataclasses.asdict(item)
    else:
        data = dict(item)
    if _flat(data):  # the common case, ten times cheaper than the round trip below
        return data
    try:
        text = json.dumps(data, default=_plain, allow_nan=False)  # ASCII: surrogates escaped, not refused
    except ValueError:  # NaN or infinity
        text = json.dumps(_finite(json.loads(json.dumps(data, default=_plain))))
    scrubbed: dict[str, Any] = _scrubbed(json.loads(text))
    return scrubbed


_SCALARS = (str, int, float, bool, type(None))
_UNSAFE = re.compile("[\x00\ud800-\udfff]")  # NUL, and surrogates: not text in UTF-8 or PostgreSQL


def safe_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD (a surrogate pair becomes its character)."""
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    if _UNSAFE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "\ufffd")


def _unsafe(text: str) -> bool:
    return "\x00" in text if text.isascii() else _UNSAFE.search(text) is not None


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _flat(data: dict[str, Any]) -> bool:
    """Whether `data` is ready as it is: text keys, scalar values (finite numbers, text that is safe).

    The texts are checked together, in one string: a page's item has ten of them.
    """
    texts: list[str] = []
    for key, value in data.items():
        kind = type(value)
        if type(key) is not str or kind not in _SCALARS:
            return False
        if kind is float and not math.isfinite(value):
            return False
        texts.append(key)
        if kind is str:
            texts.append(value)
    return not _unsafe("".join(texts))


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


def key_fields(item: Any, spider: Any = None) -> tuple[str, ...]:
    """The fields naming an item's natural key: its dataclass's `key`, else the spider's `item_key`.

    Either may be a tuple of field names, or one name (from `-a item_key=sku,color`,
    a comma-separated list). No key: an empty tuple.
    """
    declared = None
    if type(item) is not dict and dataclasses.is_dataclass(item) and not isinstance(item, type):
        own = {f.name for f in dataclasses.fields(item)}
        if "key" not in own:
            declared = getattr(type(item), "key", None)
    if not declared and spider is not None:
        declared = getattr(spider, "item_key", None)
    if not declared:
        return ()
    if isinstance(declared, str):
        return tuple(name.strip() for name in declared.split(",") if name.strip())
    return tuple(str(name) for name in declared)


MAX_KEY = 255


def key_of(data: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    """The stored key of an item's JSON-ready `data`: one field's value as text, several as a JSON array.

    A string value is the key as is; a number is its JSON text, so 12 and "12" are one
    key. Keys longer than 255 characters are stored as their SHA-256. A missing or
    empty key field is a ValueError.
    """
    values = []
    for name in fields:
        value = data.get(name)
        if value is None or value == "":
            raise ValueError(f"item has no value for its key field {name!r}")
        values.append(value)
    if len(values) == 1 and isinstance(values[0], str):
        key = values[0]
    elif len(values) == 1 and not isinstance(values[0], dict | list):
        key = json.dumps(values[0])
    else:
        key = json.dumps(values, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if len(key) > MAX_KEY:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key
