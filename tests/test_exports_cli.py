"""`-o FILE` appends and `-O FILE` overwrites, in every format, as a Scrapy user types them."""

from __future__ import annotations

import csv
import json
import stat
import xml.etree.ElementTree as ET

from conftest import Project, Site
from test_cli import add_spider, ok, one_line_error, serve_three_pages

TITLES = ["Alpha", "Beta", "Home"]


def crawl(project: Project, *args: str) -> str:
    return ok(project.run("crawl", "pages", *args))


def titles(rows: list[dict]) -> list[str]:
    return sorted(row["title"] for row in rows)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_o_appends_and_big_o_overwrites_json_lines(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    out = project.root / "items.jsonl"
    crawl(project, "-o", "items.jsonl")
    crawl(project, "-o", "items.jsonl")
    assert titles(json_lines(out.read_text())) == sorted(TITLES * 2)
    crawl(project, "-O", "items.jsonl")
    assert titles(json_lines(out.read_text())) == TITLES
    crawl(project, "-o", "items.jl")  # Scrapy's other suffix
    assert titles(json_lines((project.root / "items.jl").read_text())) == TITLES


def test_appending_to_a_json_array_keeps_one_valid_array(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    crawl(project, "-o", "items.json")
    crawl(project, "-o", "items.json")
    assert titles(json.loads((project.root / "items.json").read_text())) == sorted(TITLES * 2)
    (project.root / "empty.json").write_text("[]\n")
    crawl(project, "-o", "empty.json")
    assert titles(json.loads((project.root / "empty.json").read_text())) == TITLES


def test_appending_to_a_json_file_that_is_not_an_array_is_refused_before_the_run(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    (project.root / "notes.json").write_text('{"mine": true}\n')
    line = one_line_error(project.run("crawl", "pages", "-o", "notes.json"))
    assert "notes.json" in line and "-O" in line
    assert site.hits == {}
    assert (project.root / "notes.json").read_text() == '{"mine": true}\n'


def test_xml_has_scrapys_shape_and_appending_keeps_one_document(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    crawl(project, "-o", "items.xml")
    crawl(project, "-o", "items.xml")
    root = ET.parse(project.root / "items.xml").getroot()
    assert root.tag == "items"
    assert [item.tag for item in root] == ["item"] * 6
    assert sorted(item.findtext("title") for item in root) == sorted(TITLES * 2)
    assert {child.tag for child in root[0]} == {"title", "path", "tag"}


def test_csv_append_keeps_one_header_and_a_new_field_becomes_a_column(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    crawl(project, "-o", "items.csv")
    spider = project.root / "spiders" / "pages.py"
    spider.write_text(spider.read_text().replace('"tag": self.tag,', '"tag": self.tag, "extra": "x",'))
    crawl(project, "-o", "items.csv")
    with (project.root / "items.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert titles(rows) == sorted(TITLES * 2)
    assert sorted(row["extra"] for row in rows) == ["", "", "", "x", "x", "x"]
    assert (project.root / "items.csv").read_text().count("title,") == 1


def test_dash_writes_items_to_stdout_and_nothing_else(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    result = project.run("crawl", "pages", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert titles(json_lines(result.stdout)) == TITLES  # the summary went to stderr
    assert "run 1 finished" in result.stderr
    as_json = project.run("crawl", "pages", "-o", "-:json")
    assert titles(json.loads(as_json.stdout)) == TITLES
    as_csv = project.run("crawl", "pages", "-O", "-:csv")
    assert titles(list(csv.DictReader(as_csv.stdout.splitlines()))) == TITLES


def test_file_colon_format_parent_folders_and_private_files(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    crawl(project, "-o", "out/2026/items.data:jsonlines")
    path = project.root / "out" / "2026" / "items.data"
    assert titles(json_lines(path.read_text())) == TITLES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    line = one_line_error(project.run("crawl", "pages", "-o", "items.yaml"))
    assert "FILE:FORMAT" in line
    line = one_line_error(project.run("crawl", "pages", "-o", "items:yaml"))
    assert "yaml" in line


def test_runspider_takes_big_o_too(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    (project.root / "items.jsonl").write_text('{"title": "old"}\n')
    ok(project.run("runspider", "spiders/pages.py", "-O", "items.jsonl"))
    assert titles(json_lines((project.root / "items.jsonl").read_text())) == TITLES


RESUMABLE = """
from harvester import Request, Spider


class Resumable(Spider):
    name = "resumable"
    base = ""

    def start_requests(self):
        yield Request(self.base + "/")

    def parse(self, response):
        yield {"url": response.url}
        if response.url.endswith("/"):
            yield Request(self.base + "/slow.html", priority=10)
            for i in range(3):
                yield Request(f"{self.base}/i/{i}.html")
"""


def test_a_resumed_run_appending_keeps_what_the_file_held_and_writes_each_item_once(project: Project) -> None:
    from hostile import serve, stop_while_serving

    project.spider("resumable", RESUMABLE)
    out = project.root / "items.jsonl"
    out.write_text('{"old": 1}\n')
    with serve("127.0.0.1") as site:
        site.page("/", "home")
        site.page("/i/*", "item page")
        args = ("crawl", "resumable", "-a", f"base={site.url}", "-s", "fetch.concurrency=1", "-o", "items.jsonl")
        stop_while_serving(project, site, "/slow.html", *args)
        resumed = project.run(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    rows = json_lines(out.read_text())
    assert rows[0] == {"old": 1}
    paths = sorted(row["url"].removeprefix(site.url) for row in rows[1:])
    assert paths == ["/", "/i/0.html", "/i/1.html", "/i/2.html", "/slow.html"]
    assert not (project.root / ".items.jsonl.harvester-run").exists()  # the run finished: no marker left
