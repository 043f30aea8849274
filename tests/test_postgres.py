"""The whole engine on PostgreSQL: migrations, a real crawl (journal, frontier, http cache, items), resume."""

from __future__ import annotations

import asyncio

from alembic import command
from conftest import Handler, Site
from sqlalchemy import create_engine, inspect, text

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl
from harvester.storage import migrate
from harvester.storage.database import open_engine

pytest_plugins = ["pg"]  # the PostgreSQL cluster and db_url fixtures


def test_migrations_upgrade_check_and_downgrade_on_postgresql(pg_url: str) -> None:
    engine = open_engine(pg_url)
    migrate.upgrade(engine)
    assert {"runs", "items", "item_history", "pages", "errors", "frontier"} <= set(inspect(engine).get_table_names())
    command.check(migrate.alembic_config(engine))  # raises when the models and the migrations differ
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_a_plain_postgresql_url_uses_psycopg_3(pg_url: str) -> None:
    engine = open_engine(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


class Pages(Spider):
    name = "pages"
    allowed_domains = ["127.0.0.1"]

    def parse(self, response):
        yield {"title": response.css("h1::text").get(), "cached": response.from_cache}
        for link in response.links():
            yield response.follow(link)


def serve_twenty_pages(site: Site) -> None:
    """Twenty linked pages with ETags; a request with the right If-None-Match gets a 304."""

    def page(i: int):
        def route(handler: Handler) -> None:
            etag = f'"p{i}"'
            if handler.headers.get("If-None-Match") == etag:
                handler.send_not_modified(etag)
                return
            links = f'<a href="/{(i + 1) % 20}">next</a><a href="/{(i * 7) % 20}">x</a>'
            handler.send_text(200, f"<h1>Page {i}</h1>{links}", headers={"ETag": etag})

        return route

    for i in range(20):
        site.routes[f"/{i}"] = page(i)


def test_two_crawls_on_postgresql_store_everything_and_revalidate(site: Site, pg_url: str) -> None:
    serve_twenty_pages(site)
    Pages.start_urls = [site.url + "/0"]
    settings = build({"storage": {"url": pg_url}, "fetch": {"obey_robots": False, "concurrency": 8}})
    first = asyncio.run(crawl(settings, Pages))
    second = asyncio.run(crawl(settings, Pages))
    assert (first.status, second.status) == ("finished", "finished")
    assert first.stats.pages == second.stats.pages == 20 and second.stats.errors == 0

    engine = create_engine(pg_url)
    with engine.connect() as connection:

        def one(sql: str, **params: object) -> object:
            return connection.execute(text(sql), params).scalar()

        assert one("select count(*) from items") == 40
        assert one("select count(*) from items where run_id = :r and (data->>'cached')::boolean", r=second.id) == 20
        assert one("select count(*) from pages where run_id = :r and status = 304", r=second.id) == 20
        assert one("select count(*) from http_cache") == 20
        assert one("select count(*) from frontier") == 0  # a finished run's queue is history
        assert one("select count(*) from runs where status = 'finished'") == 2
    engine.dispose()
