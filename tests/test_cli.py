"""The `harvester` command line, run as a user runs it: a subprocess in a project directory."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, Project, Site

SPIDER = """
from urllib.parse import urlsplit

from harvester import Spider


class {cls}(Spider):
    name = "{name}"
    start_urls = ["{url}/"]
    allowed_domains = ["127.0.0.1"]
    tag = "untagged"

    def parse(self, response):
        yield {{
            "title": response.css("h1::text").get(),
            "path": urlsplit(response.url).path,
            "tag": self.tag,
        }}
        for link in response.links():
            yield response.follow(link, callback=self.parse)
"""

TITLES = {"/": "Home", "/a": "Alpha", "/b": "Beta"}


def serve_three_pages(site: Site) -> None:
    site.page("/", '<h1>Home</h1><a href="/a">a</a> <a href="/b">b</a>')
    site.page("/a", '<h1>Alpha</h1><a href="/">home</a> <a href="/b">b</a>')
    site.page("/b", "<h1>Beta</h1>")


def add_spider(project: Project, site: Site, name: str = "pages", module: str | None = None) -> None:
    project.spider(module or name, SPIDER.format(cls=name.capitalize(), name=name, url=site.url))


def one_line_error(result: subprocess.CompletedProcess[str], status: int = 2) -> str:
    """The single stderr line of a command that failed as a user mistake should: exit status 2
    (a mistake before the run, as the manual's exit status table says) unless told otherwise."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`harvester ARGS` run from some directory other than the project's."""
    return subprocess.run(
        [sys.executable, "-m", "harvester", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def by_path(rows: list[dict]) -> dict[str, dict]:
    return {row["path"]: row for row in rows}


# --- help, list, unknown spider -------------------------------------------------------------


def test_help_exits_zero_and_names_the_commands(project: Project) -> None:
    out = ok(project.run("--help"))
    for command in ("crawl", "list", "query", "db"):
        assert command in out


def test_list_prints_only_spider_names_one_per_line(project: Project, site: Site) -> None:
    add_spider(project, site, "pages")
    add_spider(project, site, "books")
    result = project.run("list")
    assert ok(result).splitlines() == ["books", "pages"]


def test_crawl_of_unknown_spider_is_one_line_naming_it(project: Project, site: Site) -> None:
    add_spider(project, site, "pages")
    line = one_line_error(project.run("crawl", "nosuch"))
    assert "nosuch" in line
    assert not (project.root / "harvest.db").exists()


# --- configuration ----------------------------------------------------------------------------


def test_unknown_config_key_stops_list_and_crawl_with_the_key_named(project: Project, site: Site) -> None:
    add_spider(project, site, "x")
    config = project.root / "harvester.toml"
    config.write_text(config.read_text().replace("concurrency = 8", "concurency = 4"))
    for args in (("list",), ("crawl", "x")):
        line = one_line_error(project.run(*args))
        assert "concurency" in line
    assert site.hits == {}


def test_config_option_works_before_and_after_the_command_from_elsewhere(
    project: Project, site: Site, tmp_path: Path
) -> None:
    serve_three_pages(site)
    add_spider(project, site, "pages")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(project.root / "harvester.toml")

    assert ok(run_in(elsewhere, "--config", config, "list")).splitlines() == ["pages"]
    ok(run_in(elsewhere, "crawl", "pages", "--config", config))

    # the spiders and the database are the project's, not the working directory's
    assert sorted(row[0] for row in project.sql("select url from items")) == [site.url + p for p in ("/", "/a", "/b")]
    assert list(elsewhere.iterdir()) == []


def test_missing_config_file_is_one_line(project: Project, tmp_path: Path) -> None:
    line = one_line_error(project.run("--config", str(tmp_path / "nope.toml"), "list"))
    assert "nope.toml" in line


# --- spider modules that fail to import -----------------------------------------------------


def test_spider_module_raising_at_import_is_one_line_with_module_and_message(project: Project, site: Site) -> None:
    add_spider(project, site, "pages")
    project.spider("broken", 'raise RuntimeError("boom")\n')
    line = one_line_error(project.run("crawl", "pages"))
    assert "broken" in line
    assert "boom" in line
    assert site.hits == {}


def test_spider_module_with_syntax_error_is_one_line_with_module(project: Project, site: Site) -> None:
    add_spider(project, site, "pages")
    project.spider("typo", "def parse(:\n    pass\n")
    line = one_line_error(project.run("crawl", "pages"))
    assert "typo" in line
    assert "SyntaxError" in line


# --- crawl: exports, -a, -s --------------------------------------------------------------------


def test_crawl_exports_json_lines_with_spider_argument(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    out = ok(project.run("crawl", "pages", "-o", "items.jsonl", "-a", "tag=blue", "-s", "fetch.concurrency=1"))
    assert "finished" in out

    lines = (project.root / "items.jsonl").read_text().splitlines()
    items = [json.loads(line) for line in lines]
    assert by_path(items) == {p: {"title": t, "path": p, "tag": "blue"} for p, t in TITLES.items()}
    assert len(items) == 3
    assert project.sql("select count(*) from items") == [(3,)]


def test_crawl_exports_a_json_array(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    ok(project.run("crawl", "pages", "-o", "items.json"))
    items = json.loads((project.root / "items.json").read_text())
    assert isinstance(items, list) and len(items) == 3
    assert by_path(items) == {p: {"title": t, "path": p, "tag": "untagged"} for p, t in TITLES.items()}


def test_crawl_exports_csv_header_and_rows(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    ok(project.run("crawl", "pages", "-o", "items.csv", "-a", "tag=red"))
    text = (project.root / "items.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["title", "path", "tag"]
    assert sorted(rows[1:]) == sorted([t, p, "red"] for p, t in TITLES.items())


def test_crawl_with_unknown_setting_is_one_line(project: Project, site: Site) -> None:
    add_spider(project, site)
    line = one_line_error(project.run("crawl", "pages", "-s", "nosuch.key=1"))
    assert "nosuch" in line
    assert site.hits == {}


def test_crawl_exporting_where_no_directory_can_be_made_is_one_line_before_the_run(
    project: Project, site: Site
) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    line = one_line_error(project.run("crawl", "pages", "-o", "harvester.toml/dir/items.json"))  # a file
    assert "items.json" in line
    assert site.hits == {}
    if (project.root / "harvest.db").exists():
        assert project.sql("select count(*) from runs") == [(0,)]


# --- query ---------------------------------------------------------------------------------------


def crawl_two_spiders(project: Project, site: Site) -> dict[str, int]:
    """Runs `pages` (tag=one) then `books` over the same three pages; their run ids by spider."""
    serve_three_pages(site)
    add_spider(project, site, "pages")
    add_spider(project, site, "books")
    ok(project.run("crawl", "pages", "-a", "tag=one"))
    ok(project.run("crawl", "books"))
    return {spider: run for run, spider in project.sql("select id, spider from runs")}


def test_query_sql_in_every_format(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    ok(project.run("crawl", "pages"))
    sql = "select spider, count(*) as n, max(id) as last from items group by spider"

    assert json.loads(ok(project.run("query", sql, "--format", "json"))) == [{"spider": "pages", "n": 3, "last": 3}]

    lines = ok(project.run("query", sql, "--format", "jsonl")).splitlines()
    assert [json.loads(line) for line in lines] == [{"spider": "pages", "n": 3, "last": 3}]

    rows = list(csv.reader(io.StringIO(ok(project.run("query", sql, "--format", "csv")))))
    assert rows == [["spider", "n", "last"], ["pages", "3", "3"]]

    table = ok(project.run("query", "select id, url from items order by id", "--format", "table")).splitlines()
    header = table[0]
    assert header.split() == ["id", "url"]
    value_lines = [line for line in table if line.split()[0] in ("1", "2", "3")]
    assert len(value_lines) == 3
    url_column = header.index("url")
    for line in value_lines:
        assert line[url_column:].startswith(site.url), table  # values line up under their column name
    assert {line[url_column:].strip() for line in value_lines} == {site.url + p for p in TITLES}


def test_query_items_keep_data_nested_in_json_and_as_columns_in_csv(project: Project, site: Site) -> None:
    runs = crawl_two_spiders(project, site)
    rows = json.loads(ok(project.run("query", "--spider", "pages", "--format", "json")))
    assert len(rows) == 3
    for row in rows:
        assert set(row) == {"id", "run_id", "spider", "url", "created_at", "data"}
        assert row["spider"] == "pages" and row["run_id"] == runs["pages"]
        assert isinstance(row["data"], dict)
        assert row["url"] == site.url + row["data"]["path"]
    assert by_path([row["data"] for row in rows]) == {
        p: {"title": t, "path": p, "tag": "one"} for p, t in TITLES.items()
    }

    # in CSV the data fields become columns after the item's own
    out = ok(project.run("query", "--spider", "books", "--format", "csv"))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3
    assert list(rows[0]) == ["id", "run_id", "spider", "url", "created_at", "title", "path", "tag"]
    assert {row["path"]: (row["title"], row["tag"]) for row in rows} == {p: (t, "untagged") for p, t in TITLES.items()}


def test_query_item_filters_run_where_and_since(project: Project, site: Site) -> None:
    runs = crawl_two_spiders(project, site)

    def items(*filters: str) -> list[dict]:
        return [json.loads(line) for line in ok(project.run("query", *filters, "--format", "jsonl")).splitlines()]

    of_run = items("--run", str(runs["books"]))
    assert {row["spider"] for row in of_run} == {"books"} and len(of_run) == 3

    where = items("--where", "path=/a", "--where", "tag=one")
    assert [(row["spider"], row["data"]["title"]) for row in where] == [("pages", "Alpha")]

    assert len(items("--since", "2000-01-01")) == 6
    assert items("--since", "2999-01-01") == []


def test_query_with_bad_sql_is_one_line(project: Project, site: Site) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    ok(project.run("crawl", "pages"))
    line = one_line_error(project.run("query", "select * from nosuch"))
    assert "nosuch" in line


def test_query_without_a_database_is_one_line(project: Project) -> None:
    line = one_line_error(project.run("query", "select 1"))
    assert "harvest.db" in line
    assert not (project.root / "harvest.db").exists()


def test_query_items_on_a_database_without_tables_is_one_line(project: Project) -> None:
    ok(project.run("db", "current"))  # leaves an empty SQLite file behind
    for fmt in ("table", "json"):
        result = project.run("query", "--spider", "pages", "--format", fmt)
        assert "items" in one_line_error(result)
        assert result.stdout == ""


# --- db ------------------------------------------------------------------------------------------


def test_db_current_on_new_database_then_upgrade_to_newest(project: Project, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    newest = sorted(p.name[:4] for p in (REPO / "migrations" / "versions").glob("0*.py"))[-1]
    before = ok(project.run("db", "current", "--db", url))
    assert "empty" in before and "no revision" in before and newest in before  # says what the newest is

    ok(project.run("db", "upgrade", "--db", url))
    after = ok(project.run("db", "current", "--db", url)).strip()
    assert after.startswith(newest)
    assert "newest" in after and "newest is" not in after


def test_a_database_that_fails_mid_run_fails_the_run_with_one_line(project: Project, site: Site) -> None:
    site.page("/", "<h1>home</h1>")
    project.write(
        "breaker.py",
        """
        from sqlalchemy import text

        class Breaker:
            def open(self, run):
                with run.engine.begin() as connection:  # the items table is gone once the run starts
                    connection.execute(text("drop table items"))

            def process_item(self, item, run):
                return item
    """,
    )
    config = (project.root / "harvester.toml").read_text()
    project.write("harvester.toml", config.replace('pipelines = ["store"]', 'pipelines = ["breaker", "store"]'))
    project.spider(
        "home",
        f"""
        from harvester import Spider

        class Home(Spider):
            name = "home"
            start_urls = ["{site.url}/"]

            def parse(self, response):
                yield {{"title": response.css("h1::text").get()}}
    """,
    )
    result = project.run("crawl", "home")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "run 1 failed: cannot write to the harvest database" in result.stderr
    assert project.sql("select status from runs") == [("failed",)]
