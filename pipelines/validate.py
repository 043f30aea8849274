"""Pipeline: items checked before they go on; invalid ones dropped with the reason.

What is checked comes from the spider:

- `item_class`, a dataclass: every field without a default is present and not
  None (unless its annotation admits None), no field the class does not have,
  and fields annotated `str`, `int`, `float` or `bool` (or `X | None`) hold
  that type (an int passes as a float). An instance of another dataclass is
  invalid; an instance of `item_class` gets the same None and type checks.
- `required_fields = ("sku", ...)`: each present, not None, not blank.
- the item's key fields (`item_key`, or a dataclass's `key`) are required too.

An invalid item is dropped (`DropItem`, counted in the run's `filtered`
figures as "dropped: invalid: <reason>") and recorded as one `errors` row of
kind `validate`, with the reason and the start of the item, at the page's URL.
The reasons name fields, never values, so they count well.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from harvester import DropItem, ErrorKind, RunContext
from harvester.items import as_dict, key_fields

_SIMPLE = (str, int, float, bool)


class ValidatePipeline:
    def __init__(self) -> None:
        self._schemas: dict[type, _Schema] = {}

    def process_item(self, item: Any, run: RunContext) -> None:
        reason = self.problem(item, run.spider)
        if reason is None:
            return
        text = str(as_dict(item))
        run.record_error(ErrorKind.VALIDATE, f"{reason}: {text[:300]}", run.item_url())
        raise DropItem(f"invalid: {reason}")

    def problem(self, item: Any, spider: Any) -> str | None:
        """Why `item` is invalid for `spider`, or None."""
        item_class = getattr(spider, "item_class", None)
        if item_class is not None:
            if not (isinstance(item_class, type) and dataclasses.is_dataclass(item_class)):
                raise TypeError(f"{type(spider).__name__}.item_class must be a dataclass")
            is_dataclass_item = dataclasses.is_dataclass(item) and not isinstance(item, type)
            if is_dataclass_item and not isinstance(item, item_class):
                return f"not a {item_class.__name__}"
            if not is_dataclass_item and not isinstance(item, Mapping):
                return f"not a {item_class.__name__}"
            schema = self._schemas.get(item_class) or self._schemas.setdefault(item_class, _Schema(item_class))
            reason = schema.problem(item)
            if reason:
                return reason
        data = item if isinstance(item, Mapping) else _fields_of(item)
        required = tuple(getattr(spider, "required_fields", ()) or ()) + key_fields(item, spider)
        for name in required:
            value = data.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                return f"missing field {name!r}"
        return None


class _Schema:
    """The checks one dataclass implies."""

    def __init__(self, cls: type) -> None:
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # noqa: BLE001 - unresolvable annotations: check presence only
            hints = {}
        self.name = cls.__name__
        self.fields = {f.name for f in dataclasses.fields(cls)}
        self.required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        self.types: dict[str, tuple[tuple[type, ...], bool]] = {}
        for name in self.fields:
            if name in hints:
                self.types[name] = _simple_type(hints[name])

    def problem(self, item: Any) -> str | None:
        data = item if isinstance(item, Mapping) else _fields_of(item)
        for name in data:
            if name not in self.fields:
                return f"unknown field {name!r} (not in {self.name})"
        for name in self.required:
            if name not in data:
                return f"missing field {name!r}"
        for name, value in data.items():
            kinds, optional = self.types.get(name, ((), True))
            if value is None:
                if not optional:
                    return f"field {name!r} is None"
                continue
            if kinds and not _is_a(value, kinds):
                return f"field {name!r} is not {' or '.join(k.__name__ for k in kinds)}"
        return None


def _fields_of(item: Any) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}


def _simple_type(hint: Any) -> tuple[tuple[type, ...], bool]:
    """The simple types a hint allows (empty: not checked), and whether it admits None."""
    if hint is Any:
        return (), True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        if all(a in _SIMPLE for a in rest):
            return tuple(rest), optional
        return (), optional
    if hint in _SIMPLE:
        return (hint,), False
    return (), hint is None or hint is type(None)


def _is_a(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return isinstance(value, kinds)
