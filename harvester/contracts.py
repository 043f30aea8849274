"""Spider contracts: checks written in a callback's docstring, in Scrapy's form.

    def parse_book(self, response):
        \"\"\"One book page.

        @url https://books.example/book/1
        @cb_kwargs {"shelf": "poetry"}
        @returns items 1 1
        @returns requests 0 0
        @scrapes title price
        \"\"\"

`@url` (the page), `@cb_kwargs` and `@meta` (JSON objects) say how to call the
callback; `@returns items|requests MIN [MAX]` (MIN default 1, no MAX: no upper
bound) and `@scrapes FIELD...` (every item has these fields) are the checks
`harvester check` runs on what it yields. A callback without `@url` is not run.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from harvester.request import Request

SETUP = ("url", "cb_kwargs", "meta")
CHECKS = ("returns", "scrapes")
_KINDS = {"item": "items", "items": "items", "request": "requests", "requests": "requests"}


@dataclass(frozen=True)
class Contract:
    """One `@name args` line of a docstring."""

    name: str
    args: str

    def __str__(self) -> str:
        return f"@{self.name} {self.args}".strip()

    def check(self, items: list[dict[str, Any]], requests: list[Request]) -> str | None:
        """None when the callback's outputs satisfy this contract, else why not."""
        if self.name == "returns":
            return _returns(self.args.split(), items, requests)
        if self.name == "scrapes":
            return _scrapes(self.args.split(), items)
        return f"unknown contract @{self.name} (known: @{', @'.join(SETUP + CHECKS)})"


@dataclass
class Case:
    """One callback to run: its spider's method name, its page, how to call it, what to check."""

    callback: str
    url: str
    cb_kwargs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    checks: list[Contract] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # setup lines that could not be read

    def request(self) -> Request:
        return Request(
            self.url, callback=self.callback, cb_kwargs=dict(self.cb_kwargs), meta=dict(self.meta), dont_filter=True
        )


def contracts_of(function: Any) -> list[Contract]:
    """The `@name args` lines of a function's docstring, in order."""
    contracts = []
    for line in (inspect.getdoc(function) or "").splitlines():
        line = line.strip()
        if line.startswith("@") and len(line) > 1:
            name, _, args = line[1:].partition(" ")
            contracts.append(Contract(name, args.strip()))
    return contracts


def cases(spider_cls: type) -> list[Case]:
    """A case for each method of the spider whose docstring has an `@url`, by method name."""
    found = []
    for name, function in sorted(inspect.getmembers(spider_cls, inspect.isfunction)):
        contracts = contracts_of(function)
        urls = [c.args for c in contracts if c.name == "url"]
        if not urls:
            continue
        case = Case(name, urls[0])
        for contract in contracts:
            if contract.name in ("cb_kwargs", "meta"):
                value = _json_object(contract)
                if isinstance(value, str):
                    case.problems.append(value)
                else:
                    getattr(case, contract.name).update(value)
            elif contract.name != "url":
                case.checks.append(contract)
        found.append(case)
    return found


def _json_object(contract: Contract) -> dict[str, Any] | str:
    try:
        value = json.loads(contract.args)
    except json.JSONDecodeError as exc:
        return f"{contract}: not JSON ({exc})"
    return value if isinstance(value, dict) else f"{contract}: expected a JSON object"


def _returns(args: list[str], items: list[dict[str, Any]], requests: list[Request]) -> str | None:
    if not args or args[0] not in _KINDS or len(args) > 3 or not all(a.isdigit() for a in args[1:]):
        return "expected @returns items|requests MIN [MAX]"
    kind = _KINDS[args[0]]
    low = int(args[1]) if len(args) > 1 else 1
    high = int(args[2]) if len(args) > 2 else None
    count = len(items) if kind == "items" else len(requests)
    if count < low or (high is not None and count > high):
        wanted = f"{low}" if high == low else f"{low}..{high}" if high is not None else f"at least {low}"
        return f"returned {count} {kind}, expected {wanted}"
    return None


def _scrapes(fields: list[str], items: list[dict[str, Any]]) -> str | None:
    if not fields:
        return "expected @scrapes FIELD..."
    for number, item in enumerate(items, 1):
        missing = [name for name in fields if name not in item]
        if missing:
            return f"item {number} of {len(items)} lacks {', '.join(missing)}"
    return None
