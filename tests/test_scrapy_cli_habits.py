"""A Scrapy user's command-line habits, run as that user types them (a subprocess each):
Scrapy's setting names after `-s`, `--db` given a file's path, two spiders with one name,
and `genspider` given a URL, or run outside a project."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Project, Site
from test_cli import add_spider, ok, one_line_error, run_in, serve_three_pages

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
    project.write("harvester.toml", (project.root / "harvester.toml").read_text()
                  + '\n[jobs.nightly]\nspider = "pages"\nschedule = "0 3 * * *"\n')
    ok(project.run("jobs", "run", "nightly", "--db", mine))
    assert "nightly" in ok(project.run("jobs", "list", "--db", mine))
    spider = elsewhere / "one.py"
    spider.write_text((project.root / "spiders" / "pages.py").read_text())
    ok(run_in(elsewhere, "runspider", "one.py", "--db", str(tmp_path / "abs.db")))
    rows = ok(run_in(elsewhere, "query", "--db", str(tmp_path / "abs.db"), "select count(*) as n from items",
                     "--format", "json"))
    assert json.loads(rows) == [{"n": 3}]
    assert not (project.root / "harvest.db").exists()


def test_db_path_that_is_not_there_is_one_line(project: Project, tmp_path: Path) -> None:
    line = one_line_error(run_in(tmp_path, "query", "--db", "missing.db", "select 1"))
    assert str(tmp_path / "missing.db") in line
