"""The harvest database on SQLite and PostgreSQL: keyed items across runs, their history, and queries."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from typing import ClassVar

from conftest import Project, Site
from products import PRODUCTS, Products, serve_products
from sqlalchemy import create_engine, make_url, select

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl
from harvester.query import changed_items, find_items, item_history, items_of_run, open_database
from harvester.storage.items import write_items
from harvester.storage.leases import now
from harvester.storage.migrate import upgrade
from harvester.storage.runs import open_run
from harvester.storage.tables import items

pytest_plugins = ["pg"]  # the PostgreSQL cluster and db_url fixtures


def crawl_products(site: Site, url: str, spider=Products, **storage):
    spider.start_urls = [site.url + "/"]
    settings = build(
        {"storage": {"url": url, **storage}, "fetch": {"obey_robots": False, "revalidate": False, "concurrency": 4}}
    )
    return asyncio.run(crawl(settings, spider))


def rows_by_key(url: str) -> dict[str, dict]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {row["key"]: dict(row) for row in connection.execute(select(items)).mappings()}
    engine.dispose()
    return rows


def test_a_keyed_item_is_updated_in_place_with_its_history(site: Site, db_url: str) -> None:
    products = dict(PRODUCTS)
    serve_products(site, products)
    first = crawl_products(site, db_url)
    before = rows_by_key(db_url)
    assert set(before) == {"A1", "B2", "C3"}

    products["B2"] = 21.0  # one field of one item changes
    products["D4"] = 40.0  # one item is new
    del products["C3"]  # one is gone
    second = crawl_products(site, db_url)
    after = rows_by_key(db_url)

    assert set(after) == {"A1", "B2", "C3", "D4"}  # one row per key, never a second
    b2 = after["B2"]
    assert b2["id"] == before["B2"]["id"]
    assert b2["data"] == {"sku": "B2", "price": 21.0, "name": "Product B2"}
    assert (b2["run_id"], b2["changed_run_id"]) == (second.id, second.id)
    assert b2["first_seen"] == before["B2"]["first_seen"] and b2["last_seen"] > before["B2"]["last_seen"]
    a1 = after["A1"]  # seen again, unchanged: last seen now, changed in the first run
    assert (a1["id"], a1["run_id"], a1["changed_run_id"]) == (before["A1"]["id"], second.id, first.id)
    assert a1["last_seen"] > before["A1"]["last_seen"]
    assert after["C3"] == before["C3"]  # not seen: untouched

    engine = open_database(db_url)
    try:
        assert [(h["run_id"], h["data"]["price"]) for h in item_history(engine, b2["id"])] == [(first.id, 20.0)]
        assert item_history(engine, a1["id"]) == []
        changes = {row["key"]: row["change"] for row in changed_items(engine, spider="products")}
        assert changes == {"B2": "changed", "D4": "new"}
        assert {row["key"]: row["change"] for row in changed_items(engine, run=first.id)} == {"A1": "new", "C3": "new"}
        assert sorted(d["sku"] for d in items_of_run(engine, spider="products")) == ["A1", "B2", "D4"]
    finally:
        engine.dispose()


def test_a_third_run_with_no_change_lists_nothing_changed(site: Site, db_url: str) -> None:
    serve_products(site, dict(PRODUCTS))
    crawl_products(site, db_url)
    crawl_products(site, db_url)
    engine = open_database(db_url)
    try:
        assert changed_items(engine, spider="products") == []
        assert len(list(find_items(engine, spider="products"))) == 3
    finally:
        engine.dispose()


@dataclasses.dataclass
class Book:
    key: ClassVar[tuple[str, ...]] = ("isbn", "edition")
    isbn: str
    edition: int
    title: str


def test_versions_within_one_batch_and_keys_of_several_fields(db_url: str) -> None:
    """The same key three times in one transaction: one row, the two earlier versions in its history."""
    engine = create_engine(db_url)
    upgrade(engine)
    run_id, _ = open_run(engine, "books")

    def row(title: str, key: str | None = '["978",2]') -> dict:
        data = {"isbn": "978", "edition": 2, "title": title}
        return {"run_id": run_id, "spider": "books", "url": None, "data": data, "created_at": now(), "key": key}

    with engine.begin() as connection:
        write_items(
            connection, [row("one"), row("one"), row("two"), row("three"), row("x", key=None), row("x", key=None)]
        )
    with engine.connect() as connection:
        stored = connection.execute(select(items.c.id, items.c.key, items.c.data)).all()
    keyed = [r for r in stored if r.key is not None]
    assert len(keyed) == 1 and keyed[0].data["title"] == "three"
    assert [r.key for r in stored].count(None) == 2  # keyless items are appended
    history = item_history(engine, keyed[0].id)
    assert [h["data"]["title"] for h in history] == ["one", "two"]
    engine.dispose()


def test_a_dataclass_key_and_nul_characters_are_stored_on_every_database(site: Site, db_url: str) -> None:
    site.page("/", "<h1>x</h1>")

    class Books(Spider):
        name = "books"

        def parse(self, response):
            yield Book("978", 2, "Dune\x00")
            yield Book("978", 2, "Dune\x00")

    run = crawl_products(site, db_url, spider=Books)
    assert run.status == "finished" and run.stats.errors == 0
    rows = rows_by_key(db_url)
    assert list(rows) == ['["978",2]']
    assert rows['["978",2]']["data"]["title"] == "Dune\ufffd"


def test_password_env_fills_the_postgresql_password(site: Site, postgres) -> None:
    serve_products(site, dict(PRODUCTS))
    url = postgres.url(postgres.create_database(), password=False)
    Products.start_urls = [site.url + "/"]
    settings = build(
        {"storage": {"url": url, "password_env": "HARVEST_DB_PASSWORD"}, "fetch": {"obey_robots": False}},
        env={"HARVEST_DB_PASSWORD": postgres.password},
    )
    assert asyncio.run(crawl(settings, Products)).status == "finished"


# --- filters and the command line, as a user runs it, on both databases -----------------------


class Labelled(Products):
    def parse(self, response):
        for output in super().parse(response):
            if isinstance(output, dict):
                output = {**output, "label": str(output["price"]), "in_stock": output["price"] < 25}
            yield output


def test_where_compares_numbers_strings_booleans_and_null_alike_on_both(site: Site, db_url: str) -> None:
    serve_products(site, dict(PRODUCTS))
    crawl_products(site, db_url, spider=Labelled)
    engine = open_database(db_url)

    def skus(*where: str) -> list[str]:
        return sorted(row["data"]["sku"] for row in find_items(engine, spider="products", where=where))

    try:
        assert skus("price=20") == ["B2"]  # a number matches the number, whatever its spelling
        assert skus("price=20.0") == ["B2"]
        assert skus("price=2e1") == ["B2"]
        assert skus("label=20.0") == ["B2"]  # a string matches only itself
        assert skus("label=20") == []
        assert skus("sku=B2") == ["B2"]
        assert skus("in_stock=true") == ["A1", "B2"]
        assert skus("in_stock=false", "price=30") == ["C3"]
        assert skus("nosuch=null") == ["A1", "B2", "C3"]
        assert skus("price=null") == []
        assert skus("name=Product A1") == ["A1"]
    finally:
        engine.dispose()


def use_database(project: Project, url: str) -> dict[str, str]:
    """Point harvester.toml at `url`; on PostgreSQL the password comes from the environment."""
    parsed = make_url(url)
    config = (project.root / "harvester.toml").read_text()
    config = config.replace(
        'url = "sqlite:///harvest.db"',
        f'url = "{parsed.set(password=None).render_as_string()}"\npassword_env = "HARVEST_DB_PASSWORD"',
    )
    (project.root / "harvester.toml").write_text(config)
    return {"HARVEST_DB_PASSWORD": parsed.password or ""}


def test_query_changed_lists_the_changed_and_new_items_in_every_format(
    project: Project, site: Site, db_url: str
) -> None:
    env = use_database(project, db_url)
    products = dict(PRODUCTS)
    serve_products(site, products)
    crawl_products(site, db_url)
    products["B2"] = 21.0
    products["D4"] = 40.0
    crawl_products(site, db_url)

    def query(*args: str) -> str:
        result = project.run("query", *args, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    rows = json.loads(query("--changed", "--spider", "products", "--format", "json"))
    assert [row["data"]["sku"] for row in rows] == ["B2", "D4"]
    assert all(set(row) == {"id", "run_id", "spider", "url", "created_at", "data"} for row in rows)
    assert rows[0]["data"] == {"sku": "B2", "price": 21.0, "name": "Product B2"}

    lines = query("--changed", "--where", "price=21", "--format", "jsonl").splitlines()
    assert [json.loads(line)["data"]["sku"] for line in lines] == ["B2"]

    # data fields become columns after the item's own (PostgreSQL's JSONB keeps them in its own order)
    columns, fields = ["id", "run_id", "spider", "url", "created_at"], {"sku", "price", "name"}
    csv_rows = list(csv.DictReader(io.StringIO(query("--changed", "--format", "csv"))))
    assert list(csv_rows[0])[:5] == columns and set(list(csv_rows[0])[5:]) == fields
    assert [(row["sku"], row["price"]) for row in csv_rows] == [("B2", "21.0"), ("D4", "40.0")]
    table = query("--changed", "--spider", "products", "--format", "table").splitlines()
    assert table[0].split()[:5] == columns and set(table[0].split()[5:]) == fields
    assert table[-1] == "(2 rows)"

    bad = project.run("query", "select * from nosuch", env=env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "nosuch" in bad.stderr


def test_a_bad_where_is_one_line(project: Project, tmp_path) -> None:
    upgrade(create_engine(f"sqlite:///{tmp_path / 'harvest.db'}"))
    result = project.run("query", "--where", "price")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "--where" in result.stderr


def test_the_sqlite_fast_append_stores_what_sqlalchemy_would(tmp_path) -> None:
    import datetime as dt

    from sqlalchemy import insert

    engine = create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(engine)
    run_id, _ = open_run(engine, "x")
    for moment in (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=dt.UTC)):
        row = {
            "run_id": run_id,
            "spider": "x",
            "url": None,
            "data": {"a": "é", "b": [1, 2.5], "c": "\ud800", "d": 2**70},
            "created_at": moment,
            "key": None,
        }
        with engine.begin() as connection:
            write_items(connection, [row])
            connection.execute(
                insert(items), [{**row, "first_seen": moment, "last_seen": moment, "changed_run_id": run_id}]
            )
    with engine.connect() as connection:
        raw = connection.exec_driver_sql(
            "select data, created_at, first_seen, last_seen, changed_run_id, key from items order by id"
        ).all()
    engine.dispose()
    parsed = [(json.loads(row[0]), *row[1:]) for row in raw]  # the JSON text may differ in spacing only
    assert parsed[0] == parsed[1] and parsed[2] == parsed[3] and parsed[0] != parsed[2]
    assert parsed[0][0] == {"a": "é", "b": [1, 2.5], "c": "\ud800", "d": 2**70}


def test_upgrading_to_keyed_items_keeps_earlier_items_as_keyless(db_url: str) -> None:
    from sqlalchemy import text

    from harvester.storage.migrate import downgrade

    engine = create_engine(db_url)
    upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into runs (id, spider, started_at, status, stats) "
                "values (1, 'old', '2026-01-01 00:00:00', 'finished', '{}')"
            )
        )
        connection.execute(
            text(
                "insert into items (run_id, spider, url, data, created_at) "
                "values (1, 'old', 'http://x/', '{\"a\": 1}', '2026-01-01 00:00:01')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(select(items)).mappings().one()
    assert row["key"] is None and row["changed_run_id"] == 1
    assert row["first_seen"] == row["last_seen"] == row["created_at"]
    downgrade(engine, "0003")
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from items")).scalar() == 1
    engine.dispose()


def test_a_feed_faster_than_the_database_waits_for_the_writer(tmp_path) -> None:
    import contextlib
    import types

    from harvester.outcome import SPILL, Outcome
    from harvester.storage.items import ItemRows
    from harvester.storage.journal import BACKLOG, Journal

    engine = create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(engine)
    run_id, _ = open_run(engine, "feed")
    spider = types.SimpleNamespace(name="feed")

    async def produce() -> list[bool]:
        journal = Journal(engine, run_id, lambda: {}, item_rows=ItemRows(run_id, spider))  # no writer task
        outcome = Outcome(run_id)
        states = []
        for n in range(BACKLOG + 2 * SPILL):
            journal.keep(outcome, {"n": n})
            if outcome.full:
                with contextlib.suppress(TimeoutError):  # nothing drains by itself: a producer would wait
                    async with asyncio.timeout(0.01):
                        await journal.pace(outcome)
                states.append(journal.behind)
        await journal.flush()
        states.append(journal.behind)
        return states

    states = asyncio.run(produce())
    assert states[0] is False and states[-2] is True and states[-1] is False  # producers waited, then went on
    with engine.connect() as connection:
        assert len(connection.execute(select(items.c.id)).all()) == BACKLOG + 2 * SPILL  # every spill written
    engine.dispose()


def test_the_retired_storage_batch_size_is_an_unknown_key_in_one_line(project: Project) -> None:
    """`[storage] batch_size` was never read (items go with their page's transaction): it is refused as any
    unknown key is, before a run opens, so nobody tunes a setting that does nothing."""
    config = project.root / "harvester.toml"
    config.write_text(
        config.read_text().replace('url = "sqlite:///harvest.db"', 'url = "sqlite:///harvest.db"\nbatch_size = 500')
    )
    result = project.run("crawl", "anything")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == ["harvester: error: unknown key 'batch_size' in [storage]"]
    assert not (project.root / "harvest.db").exists()
