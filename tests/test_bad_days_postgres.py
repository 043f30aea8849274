"""Bad days on PostgreSQL: the crawl's connections killed by the server mid-run are reconnected,
and the run goes on to the end with every page fetched once and every item stored once."""

from __future__ import annotations

import asyncio
import collections
import threading
import time

from conftest import Handler, Site
from sqlalchemy import create_engine, text

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl

pytest_plugins = ["pg"]  # the PostgreSQL cluster and its fixtures

PAGES = 30


class Pages(Spider):
    name = "pages"
    allowed_domains = ["127.0.0.1"]

    def parse(self, response):
        if "/p/" in response.url:
            yield {"page": response.url.rsplit("/", 1)[1]}
        yield from response.follow_all()


def test_connections_terminated_by_the_server_are_retried(site: Site, pg_url: str) -> None:
    killer = create_engine(pg_url)
    killed = []
    lock = threading.Lock()

    def terminate_the_others() -> None:
        with killer.connect() as connection:
            result = connection.execute(
                text(
                    "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                    " where datname = current_database() and pid <> pg_backend_pid()"
                )
            )
            killed.append(result.scalar())

    def keep_terminating() -> None:  # for a second, every 20 ms: some land inside transactions
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            terminate_the_others()
            time.sleep(0.02)

    def page(handler: Handler) -> None:
        with lock:
            hits = sum(site.hits.values())
        if hits == 8:
            threading.Thread(target=keep_terminating, daemon=True).start()
        time.sleep(0.02)
        handler.send_text(200, f"<h1>{handler.path}</h1>")

    site.page("/", "".join(f'<a href="/p/{i}">{i}</a>' for i in range(PAGES)))
    for i in range(PAGES):
        site.routes[f"/p/{i}"] = page
    Pages.start_urls = [site.url + "/"]
    settings = build(
        {"storage": {"url": pg_url, "patience": 20}, "fetch": {"obey_robots": False, "concurrency": 2, "per_host": 2}}
    )
    run = asyncio.run(crawl(settings, Pages))

    assert run.status == "finished", run.failure
    assert sum(killed) >= 3  # the crawl's connections really were cut, again and again
    hits = collections.Counter({path: n for path, n in site.hits.items() if path.startswith("/p/")})
    assert len(hits) == PAGES and set(hits.values()) == {1}
    with killer.connect() as connection:
        assert connection.execute(text("select count(*), count(distinct data->>'page') from items")).one() == (
            PAGES,
            PAGES,
        )
        assert connection.execute(text("select count(*) from pages")).scalar() == PAGES + 1
    assert (run.stats.pages, run.stats.items, run.stats.errors) == (PAGES + 1, PAGES, 0)
    killer.dispose()
