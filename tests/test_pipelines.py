"""The built-in pipelines validate and dedupe, in a real crawl: what is dropped, counted and recorded."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import ClassVar

from conftest import Site
from harvester.pipelines.validate import ValidatePipeline
from sqlalchemy import create_engine, text

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl


@dataclasses.dataclass
class Book:
    title: str
    price: float
    isbn: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)


class Typed(Spider):
    name = "typed"
    item_class = Book
    ITEMS: ClassVar[list] = [
        {"title": "Dune", "price": 9.5},  # valid
        {"title": "Emma", "price": 7},  # an int is a float too
        Book("Ulysses", 12.0, "978"),  # an instance: valid
        {"title": "No price"},  # missing field
        {"title": "Cheap", "price": "free"},  # wrong type
        {"title": "Odd", "price": 1.0, "colour": "red"},  # unknown field
        {"title": None, "price": 3.0},  # None where not Optional
        {"title": "Bad", "price": True},  # a bool is not a float
    ]

    def parse(self, response):
        yield from self.ITEMS


def run(site: Site, tmp_path: Path, spider: type[Spider], pipelines: list[str]):
    site.page("/", "<p>items</p>")
    spider.start_urls = [site.url + "/"]
    settings = build(
        {
            "project": {"pipelines": pipelines},
            "storage": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
            "fetch": {"obey_robots": False},
        }
    )
    return asyncio.run(crawl(settings, spider))


def query(tmp_path: Path, sql: str) -> list[tuple]:
    engine = create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return rows


def test_validate_drops_items_that_do_not_fit_the_item_class(site: Site, tmp_path: Path) -> None:
    result = run(site, tmp_path, Typed, ["validate", "store"])
    stored = query(tmp_path, "select json_extract(data, '$.title') from items order by id")
    assert stored == [("Dune",), ("Emma",), ("Ulysses",)]
    assert result.stats.items == 3 and result.stats.dropped == 5
    assert result.stats.filtered == {
        "dropped: invalid: missing field 'price'": 1,
        "dropped: invalid: field 'price' is not float": 2,
        "dropped: invalid: unknown field 'colour' (not in Book)": 1,
        "dropped: invalid: field 'title' is None": 1,
    }
    errors = query(tmp_path, "select kind, url, message from errors order by id")
    assert [kind for kind, _, _ in errors] == ["validate"] * 5
    assert errors[0][1] == site.url + "/" and errors[0][2].startswith("missing field 'price': {'title': 'No price'}")
    assert result.stats.error_kinds == {"validate": 5}


class Required(Spider):
    name = "required"
    required_fields = ("title",)
    item_key = ("sku",)

    def parse(self, response):
        yield {"sku": "1", "title": "Dune"}
        yield {"sku": "2", "title": "  "}  # blank
        yield {"title": "No key"}  # the key field is required too
        yield {"sku": "3"}


def test_required_fields_and_key_fields_must_have_values(site: Site, tmp_path: Path) -> None:
    result = run(site, tmp_path, Required, ["validate", "store"])
    assert query(tmp_path, "select key from items") == [("1",)]
    assert result.stats.filtered == {
        "dropped: invalid: missing field 'title'": 2,
        "dropped: invalid: missing field 'sku'": 1,
    }


def test_validate_tells_why_without_a_run() -> None:
    check = ValidatePipeline().problem
    assert check(Book("x", 1.0), Typed()) is None

    @dataclasses.dataclass
    class Other:
        title: str

    assert check(Other("x"), Typed()) == "not a Book"
    assert check({"title": "x", "price": 1.0, "isbn": None}, Typed()) is None  # Optional admits None


class Repeats(Spider):
    name = "repeats"
    item_key = ("sku",)

    def parse(self, response):
        yield {"sku": "1", "price": 1}
        yield {"sku": "2", "price": 2}
        yield {"sku": "1", "price": 3}  # same key, other data: still a repeat
        yield {"sku": 2, "price": 2}  # 2 and "2" are one key, as in the store


class Whole(Spider):
    name = "whole"

    def parse(self, response):
        yield {"a": 1, "b": 2}
        yield {"b": 2, "a": 1}  # the same item
        yield {"a": 1, "b": 3}


def test_dedupe_drops_repeats_by_key_or_whole_item(site: Site, tmp_path: Path) -> None:
    keyed = run(site, tmp_path, Repeats, ["dedupe", "store"])
    assert query(tmp_path, "select key, json_extract(data, '$.price') from items order by id") == [("1", 1), ("2", 2)]
    assert (keyed.stats.dropped, keyed.stats.filtered["dropped: duplicate"]) == (2, 2)
    assert query(tmp_path, "select count(*) from item_history") == [(0,)]  # the store never saw the repeat

    whole = run(site, tmp_path, Whole, ["dedupe", "store"])
    assert whole.stats.items == 2 and whole.stats.filtered == {"dropped: duplicate": 1}


def test_dedupe_of_a_resumed_run_remembers_what_it_stored_before(tmp_path: Path) -> None:
    import pytest
    from harvester.pipelines.dedupe import DedupePipeline
    from harvester.pipelines.store import StorePipeline

    from harvester import DropItem
    from harvester.outcome import Outcome
    from harvester.pipeline import Pipelines
    from harvester.run import Run
    from harvester.storage.database import open_engine
    from harvester.storage.items import ItemRows
    from harvester.storage.journal import Journal
    from harvester.storage.migrate import ensure_current
    from harvester.storage.runs import open_run

    engine = open_engine(f"sqlite:///{tmp_path / 'h.db'}")
    ensure_current(engine)
    run_id, _ = open_run(engine, "repeats")

    def a_run(resumed: bool) -> Run:
        spider = Repeats()
        return Run(
            run_id,
            spider,
            build({}),
            engine,
            Journal(engine, run_id, dict, item_rows=ItemRows(run_id, spider)),
            resumed=resumed,
        )

    before = a_run(resumed=False)
    outcome = Outcome(run_id)
    asyncio.run(Pipelines([StorePipeline()]).process({"sku": "1", "price": 1}, before.for_request(outcome)))
    before.journal.record(outcome)
    asyncio.run(before.journal.flush())

    dedupe = DedupePipeline()
    dedupe.open(a_run(resumed=True))
    with pytest.raises(DropItem):
        dedupe.process_item({"sku": 1, "price": 5}, a_run(resumed=True))
    dedupe.process_item({"sku": "2", "price": 2}, a_run(resumed=True))
    engine.dispose()
