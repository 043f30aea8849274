"""A Scrapy user's command-line habits, run as that user types them (a subprocess each):
Scrapy's setting names after `-s`, `--db` given a file's path, two spiders with one name,
and `genspider` given a URL, or run outside a project."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import REPO, Project, Site
from test_cli import add_spider, ok, one_line_error, run_in, serve_three_pages

from harvester.scrapy_settings import COUNTERPARTS, WITHOUT_COUNTERPART

# --- -s with Scrapy's setting names ---------------------------------------------------------------


def test_scrapy_setting_names_set_their_harvester_keys(project: Project, site: Site) -> None:
    serve_three_pages(site)
    site.page("/robots.txt", "User-agent: *\nDisallow: /b\n", content_type="text/plain")
    add_spider(project, site)
    ok(
        project.run(
            "crawl",
            "pages",
            "-s",
            "ROBOTSTXT_OBEY=True",
            "-s",
            "USER_AGENT=habit bot/1.0",
            "-s",
            "DOWNLOAD_DELAY=0.05",
            "-s",
            "CONCURRENT_REQUESTS=2",
            "-s",
            "DOWNLOAD_TIMEOUT=5",
        )
    )
    assert site.hits["/robots.txt"] == 1 and site.hits["/a"] == 1
    assert site.hits["/b"] == 0  # robots.txt obeyed, though harvester.toml says obey_robots = false
    assert {headers["User-Agent"] for _, _, headers in site.requests} == {"habit bot/1.0"}


def test_a_scrapy_depth_limit_and_a_scrapy_boolean_spelling(project: Project, site: Site) -> None:
    site.page("/", '<h1>Home</h1><a href="/a">a</a>')
    site.page("/a", '<h1>Alpha</h1><a href="/a/deeper">deeper</a>')
    site.page("/a/deeper", "<h1>Deeper</h1>")
    site.page("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    add_spider(project, site)
    ok(project.run("crawl", "pages", "-s", "DEPTH_LIMIT=1", "-s", "ROBOTSTXT_OBEY=0"))
    assert sorted(project.sql("select url from pages")) == [(f"{site.url}/",), (f"{site.url}/a",)]
    assert site.hits["/robots.txt"] == 0


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("REDIRECT_MAX_TIMES=3", ("REDIRECT_MAX_TIMES", "no Harvester counterpart", "at most 10")),
        ("RETRY_ENABLED=False", ("RETRY_ENABLED", "no Harvester counterpart", "fetch.retries")),
        ("FEEDS=x", ("FEEDS", "-o FILE")),
        ("BOT_NAME=shop", ("BOT_NAME", "section.key")),
        ("delay=1", ("did you mean fetch.delay?",)),
        ("download_delay=1", ("did you mean fetch.delay?",)),
        ("retires=1", ("did you mean fetch.retries?",)),
        ("DOWNLOAD_MAXSIZE=huge", ("max_size", "not a size")),
    ],
)
def test_a_setting_harvester_cannot_take_is_one_line_naming_what_to_use(
    project: Project, site: Site, setting: str, named: tuple[str, ...]
) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    result = project.run("crawl", "pages", "-s", setting)
    line = one_line_error(result)
    assert result.returncode == 2
    for words in named:
        assert words in line, line
    assert site.hits == {} and not (project.root / "harvest.db").exists()


def test_the_manual_shows_the_scrapy_settings_table() -> None:
    readme = (REPO / "docs" / "guides" / "manual.md").read_text()  # the README's manual, moved
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (.+?) \|$", readme, re.MULTILINE))
    assert {name: key.strip("`") for name, key in rows.items() if name in COUNTERPARTS} == COUNTERPARTS
    assert {name for name in rows if name not in COUNTERPARTS} == set(WITHOUT_COUNTERPART)


# --- --db PATH ----------------------------------------------------------------------------------------


def test_db_takes_a_plain_path_for_every_command_that_has_it(project: Project, site: Site, tmp_path: Path) -> None:
    serve_three_pages(site)
    add_spider(project, site)
    below = project.root / "notes"
    below.mkdir()
    ok(run_in(below, "crawl", "pages", "--db", "mine.db"))  # relative to where the user is
    assert (below / "mine.db").is_file() and not (project.root / "harvest.db").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mine = str(below / "mine.db")
    out = ok(run_in(elsewhere, "query", "--db", mine, "select count(*) as n from items", "--format", "json"))
    assert json.loads(out) == [{"n": 3}]
    assert "newest" in ok(run_in(elsewhere, "db", "current", "--db", mine))
    ok(run_in(elsewhere, "db", "upgrade", "--db", "fresh.db"))
    assert (elsewhere / "fresh.db").is_file()
    project.write(
        "harvester.toml",
        (project.root / "harvester.toml").read_text() + '\n[jobs.nightly]\nspider = "pages"\nschedule = "0 3 * * *"\n',
    )
    ok(project.run("jobs", "run", "nightly", "--db", mine))
    assert "nightly" in ok(project.run("jobs", "list", "--db", mine))
    spider = elsewhere / "one.py"
    spider.write_text((project.root / "spiders" / "pages.py").read_text())
    ok(run_in(elsewhere, "runspider", "one.py", "--db", str(tmp_path / "abs.db")))
    rows = ok(
        run_in(
            elsewhere, "query", "--db", str(tmp_path / "abs.db"), "select count(*) as n from items", "--format", "json"
        )
    )
    assert json.loads(rows) == [{"n": 3}]
    assert not (project.root / "harvest.db").exists()


def test_db_path_that_is_not_there_is_one_line(project: Project, tmp_path: Path) -> None:
    line = one_line_error(run_in(tmp_path, "query", "--db", "missing.db", "select 1"))
    assert str(tmp_path / "missing.db") in line


# --- two spiders with one name ------------------------------------------------------------------


@pytest.mark.parametrize("command", [("list",), ("crawl", "pages")])
def test_two_spiders_with_one_name_are_refused_with_both_files_named(
    project: Project, site: Site, command: tuple[str, ...]
) -> None:
    add_spider(project, site, "pages")
    add_spider(project, site, "pages", module="pages_copy")
    result = project.run(*command)
    line = one_line_error(result)
    assert result.returncode == 2
    assert "'pages'" in line and "spiders/pages.py" in line and "spiders/pages_copy.py" in line
    assert site.hits == {}


# --- genspider ------------------------------------------------------------------------------------


def test_genspider_keeps_the_url_it_is_given(project: Project, site: Site) -> None:
    site.page("/page/1/", '<title>One</title><a href="/page/2/">next</a>')
    site.page("/page/2/", "<title>Two</title>")
    url = f"{site.url}/page/1/"
    ok(project.run("genspider", "q2", url))
    source = (project.root / "spiders" / "q2.py").read_text()
    assert f'start_urls = ["{url}"]' in source and 'allowed_domains = ["127.0.0.1"]' in source
    ok(project.run("crawl", "q2"))
    assert sorted(project.sql("select json_extract(data, '$.title') from items")) == [("One",), ("Two",)]
    assert "/" not in site.hits  # started where it was told, not at the site's root


@pytest.mark.parametrize(
    ("domain", "template", "start"),
    [
        ("shop.example", "basic", 'start_urls = ["https://shop.example/"]'),
        ("shop.example:8080", "xmlfeed", 'start_urls = ["https://shop.example:8080/feed.xml"]'),
        ("http://127.0.0.1:8009/", "csvfeed", 'start_urls = ["http://127.0.0.1:8009/feed.csv"]'),
        ("http://127.0.0.1:8009/data/items.json", "jsonfeed", 'start_urls = ["http://127.0.0.1:8009/data/items.json"]'),
        ("http://127.0.0.1:8009/maps/site.xml", "sitemap", 'sitemap_urls = ["http://127.0.0.1:8009/maps/site.xml"]'),
        ("http://127.0.0.1:8009/list/", "crawl", 'start_urls = ["http://127.0.0.1:8009/list/"]'),
    ],
)
def test_genspider_start_url_by_template(project: Project, domain: str, template: str, start: str) -> None:
    ok(project.run("genspider", "s", domain, "-t", template))
    source = (project.root / "spiders" / "s.py").read_text()
    assert start in source, source
    assert re.search(r'allowed_domains = \["(shop\.example|127\.0\.0\.1)"\]', source)


def test_genspider_outside_a_project_writes_name_py_here_for_runspider(tmp_path: Path, site: Site) -> None:
    site.page("/page/1/", "<title>One</title>")
    out = ok(run_in(tmp_path, "genspider", "q2", f"{site.url}/page/1/"))
    assert str(tmp_path / "q2.py") in out and "harvester runspider q2.py" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q2.py"]
    ok(run_in(tmp_path, "runspider", "q2.py"))
    rows = json.loads(ok(run_in(tmp_path, "query", "--db", "harvest.db", "select url from items", "--format", "json")))
    assert rows == [{"url": f"{site.url}/page/1/"}]
    line = one_line_error(run_in(tmp_path, "genspider", "q2", "example.com"))
    assert "exists already" in line


@pytest.mark.parametrize("name", ["json", "lxml"])
def test_genspider_outside_a_project_refuses_a_name_runspider_could_not_import(tmp_path: Path, name: str) -> None:
    line = one_line_error(run_in(tmp_path, "genspider", name, "example.com"))
    assert f"{name}.py would hide the module '{name}'" in line
    assert list(tmp_path.iterdir()) == []
