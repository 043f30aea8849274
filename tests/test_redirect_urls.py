"""Redirect targets joined as browsers join them (WHATWG), and a Location that does not parse recorded."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from conftest import Site

from harvester import Request, Spider
from harvester.config import build
from harvester.crawler import crawl


class Landing(Spider):
    name = "landing"

    def start_requests(self):
        for path in ("/spaced", "/backslash", "/broken"):
            yield Request(self.base + path)

    def parse(self, response):
        yield {"url": response.url}


def test_a_location_is_joined_as_a_browser_joins_it(tmp_path: Path, site: Site) -> None:
    def redirect(location: str):
        return lambda handler: handler.send_text(302, "", headers={"Location": location})

    site.routes["/spaced"] = redirect("/a b\tc?q=1")  # space kept (encoded), tab removed
    site.routes["/backslash"] = redirect("\\d\\e")  # backslashes are slashes in http(s) URLs
    site.routes["/broken"] = redirect("http://[bad/")
    site.page("/a%20bc?q=1", "<p>landed</p>")
    site.page("/d/e", "<p>landed</p>")
    Landing.base = site.url
    settings = build(
        {"storage": {"url": "sqlite:///harvest.db"}, "fetch": {"retries": 0, "timeout": 10, "obey_robots": False}},
        root=tmp_path,
    )
    run = asyncio.run(crawl(settings, Landing))

    assert run.status == "finished"
    assert site.hits["/a%20bc?q=1"] == site.hits["/d/e"] == 1
    with sqlite3.connect(tmp_path / "harvest.db") as db:
        errors = db.execute("select url, kind from errors").fetchall()
        landed = sorted(row[0] for row in db.execute("select final_url from pages"))
    assert errors == [(site.url + "/broken", "redirect")]
    assert landed == [site.url + "/a%20bc?q=1", site.url + "/d/e"]
