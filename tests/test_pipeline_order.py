"""Pipelines run in the order listed, as in Scrapy: what reaches `store` is stored as it was then."""

from __future__ import annotations

import json
import re

from conftest import Project, Site
from test_cli import add_spider, ok, serve_three_pages

TITLES = ["Alpha", "Beta", "Home"]

MINE = """
from harvester import DropItem


class DropAll:
    def process_item(self, item, run):
        raise DropItem("not wanted here")


class Shout:
    def process_item(self, item, run):
        return {**item, "title": item["title"].upper()}
"""


def crawl(project: Project, site: Site, pipelines: list[str], *args: str) -> str:
    serve_three_pages(site)
    add_spider(project, site)
    project.write("mine.py", MINE)
    config = (project.root / "harvester.toml").read_text()
    config = re.sub(r"(?m)^pipelines = .*$", f"pipelines = {json.dumps(pipelines)}", config)
    (project.root / "harvester.toml").write_text(config)
    return ok(project.run("crawl", "pages", *args))


def stored(project: Project) -> list[str]:
    return sorted(json.loads(data)["title"] for (data,) in project.sql("select data from items"))


def exported(project: Project) -> list[str]:
    path = project.root / "items.jsonl"
    return sorted(json.loads(line)["title"] for line in path.read_text().splitlines() if line.strip())


def test_a_pipeline_after_store_cannot_take_back_what_was_stored(project: Project, site: Site) -> None:
    crawl(project, site, ["store", "mine.DropAll"], "-o", "items.jsonl")
    assert stored(project) == TITLES
    assert exported(project) == []  # the export comes last: after the drop
    assert project.sql("select status from runs") == [("finished",)]
    [(stats,)] = project.sql("select stats from runs")
    assert json.loads(stats)["items"] == 3 and json.loads(stats)["dropped"] == 3


def test_a_pipeline_after_store_changes_what_follows_not_what_was_stored(project: Project, site: Site) -> None:
    crawl(project, site, ["store", "mine.Shout"], "-o", "items.jsonl")
    assert stored(project) == TITLES
    assert exported(project) == [title.upper() for title in TITLES]


def test_a_pipeline_before_store_decides_what_is_stored(project: Project, site: Site) -> None:
    crawl(project, site, ["mine.DropAll", "store"], "-o", "items.jsonl")
    assert stored(project) == []
    assert exported(project) == []
    crawl(project, site, ["mine.Shout", "store"], "-O", "items.jsonl")
    assert stored(project) == [title.upper() for title in TITLES]
    assert exported(project) == [title.upper() for title in TITLES]


def test_a_run_without_store_stores_no_items_and_exports_them_all(project: Project, site: Site) -> None:
    crawl(project, site, [], "-o", "items.jsonl")
    assert stored(project) == []
    assert exported(project) == TITLES
    [(stats,)] = project.sql("select stats from runs")
    assert json.loads(stats)["items"] == 3  # scraped, counted, not stored
