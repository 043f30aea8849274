"""`harvester check [SPIDER]`: runs the contracts in the spiders' callback docstrings.

Each callback with an `@url` is run once on that live page (fetched as the
spider's crawl would fetch it); each `@returns` and `@scrapes` line is then
one result: `ok` or `FAIL` with the reason. Exit status 1 when one fails.
See `harvester.contracts` for the form.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from harvester import loop
from harvester.cli.crawl import spider_args
from harvester.cli.help import command
from harvester.cli.options import add_spider_options, settings_from
from harvester.cli.session import Session, make_spider
from harvester.config import Settings
from harvester.contracts import Case, cases
from harvester.exceptions import FetchError, SpiderLoadError
from harvester.project import find_spiders, get_spider
from harvester.spider import Spider


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "check",
        common,
        help="run the contracts in the spiders' callback docstrings",
        description="Run each callback whose docstring has an @url on that live page and check\n"
        "what it yields against its contracts, written as in Scrapy:\n"
        "  @url URL                         the page (required to run the callback)\n"
        "  @cb_kwargs JSON  @meta JSON      how the callback is called\n"
        "  @returns items|requests MIN [MAX]\n"
        "  @scrapes FIELD ...               every item has these fields\n"
        "Prints one line per contract (ok or FAIL and why); exit status 1 when one fails.",
        examples=("harvester check", "harvester check books", "harvester check --list"),
    )
    parser.add_argument("spider", nargs="?", help="only this spider (default: every spider of the project)")
    parser.add_argument("-l", "--list", action="store_true", help="list the contracts, run nothing")
    add_spider_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.spider:
        spiders = {args.spider: get_spider(settings, args.spider)}
    else:
        spiders = find_spiders(settings)
    plans = {name: cases(cls) for name, cls in sorted(spiders.items())}
    if args.list:
        for name, found in plans.items():
            for case in found:
                print(f"{name}.{case.callback}  @url {case.url}  " + "  ".join(map(str, case.checks)))
        return 0
    results = loop.run(_check_all(settings, spiders, plans, spider_args(args.args)))
    failed = sum(not ok for ok in results)
    if not results:
        print("no contracts found (a callback's docstring needs @url and @returns or @scrapes lines)")
    else:
        print(f"{len(results)} contracts: {len(results) - failed} ok, {failed} failed")
    return 1 if failed else 0


async def _check_all(
    settings: Settings, spiders: dict[str, type[Spider]], plans: dict[str, list[Case]], attributes: dict[str, str]
) -> list[bool]:
    results: list[bool] = []
    for name, found in plans.items():
        if not found:
            continue
        try:
            spider = make_spider(spiders[name], attributes, settings)
        except SpiderLoadError as exc:
            outcomes = [[(f"{label}: {exc}", False) for label in _labels(case)] for case in found]
        else:
            session = Session(settings, spider)
            try:
                outcomes = await asyncio.gather(*(_check(session, case) for case in found))
            finally:
                await session.aclose()
        for case, outcome in zip(found, outcomes):
            for line, ok in outcome:
                print(f"{'ok  ' if ok else 'FAIL'}  {name}.{case.callback}  {line}")
                results.append(ok)
    return results


async def _check(session: Session, case: Case) -> list[tuple[str, bool]]:
    """(line, passed) for each contract of one callback."""
    if case.problems:
        return [(problem, False) for problem in case.problems]
    if not case.checks:
        return [(f"@url {case.url}: no @returns or @scrapes to check", False)]
    try:
        outputs = await session.call(await session.fetch(case.request()))
    except FetchError as exc:
        failure = f"fetch of {case.url} failed: {exc.kind}: {exc}"
    except Exception as exc:  # noqa: BLE001 - the spider's bug fails its contracts, the others still run
        failure = f"the callback raised {type(exc).__name__}: {exc}"
    else:
        verdicts = [(contract, contract.check(outputs.items, outputs.requests)) for contract in case.checks]
        return [(str(c) + (f": {why}" if why else ""), why is None) for c, why in verdicts]
    return [(f"{contract}: {failure}", False) for contract in case.checks]


def _labels(case: Case) -> list[str]:
    """How each of a callback's results is named: its contracts, or its @url when it has none."""
    return [str(contract) for contract in case.checks] or [f"@url {case.url}"]
