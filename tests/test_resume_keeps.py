"""Resume keeps what the run knew: the operator's file:// roots, and every item in `-o FILE`.

Each test stops a run with SIGTERM while a slow page holds its one request
slot (so what is still queued is known), then resumes it with `--resume`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hostile import stop_while_serving

SPIDER = """
from harvester import Request, Spider


class Keeper(Spider):
    name = "keeper"
    base = ""
    root = ""

    def start_requests(self):
        yield Request(self.base + "/slow", priority=10)
        if self.root:
            yield Request(self.root + "index.html")
        yield Request(self.base + "/")

    def parse(self, response):
        yield {"page": response.url.rsplit("/", 1)[1] or "home"}
        yield from response.follow_all()
"""


def stop_during_slow_page(project, site, *args: str) -> None:
    """A first run, stopped by SIGTERM while the slow page is being served."""
    stop_while_serving(
        project, site, "/slow", "crawl", "keeper", "-a", f"base={site.url}", *args, "-s", "fetch.concurrency=1"
    )


def file_tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text('<a href="a.html">a</a> <a href="sub/b.html">b</a>')
    (root / "a.html").write_text("a")
    (root / "sub" / "b.html").write_text("b")
    (tmp_path / "outside.html").write_text("outside")
    return root


def test_a_resumed_file_crawl_still_follows_links_under_the_operators_root(project, site, tmp_path):
    root = file_tree(tmp_path)
    site.page("/", "home")
    project.spider("keeper", SPIDER)
    stop_during_slow_page(project, site, "-a", f"root={root.as_uri()}/")
    assert project.sql("select count(*) from pages where url like 'file:%'") == [(0,)]  # still queued

    result = project.run("crawl", "keeper", "-a", f"base={site.url}", "--resume")
    assert result.returncode == 0, result.stderr
    pages = {url.rsplit("/", 1)[1] for (url,) in project.sql("select url from pages where url like 'file:%'")}
    assert pages == {"index.html", "a.html", "b.html"}
    stats = json.loads(project.sql("select stats from runs")[0][0])
    assert stats["filtered"].get("unsafe_scheme", 0) == 0
    assert stats["file_roots"] == [f"{root.as_uri()}/index.html"]


@pytest.mark.parametrize("name", ["out.jsonl", "out.json", "out.csv"])
def test_export_after_resume_holds_every_item_of_the_run_once(project, site, name):
    site.page("/", '<a href="/p/1">1</a> <a href="/p/2">2</a> <a href="/p/3">3</a>')
    for i in (1, 2, 3):
        site.page(f"/p/{i}", f"page {i}")
    project.spider("keeper", SPIDER)
    stop_during_slow_page(project, site, "-o", name)
    assert project.sql("select count(*) from items") == [(1,)]  # the slow page's

    result = project.run("crawl", "keeper", "-a", f"base={site.url}", "--resume", "-o", name)
    assert result.returncode == 0, result.stderr
    stored = sorted(json.loads(data)["page"] for (data,) in project.sql("select data from items"))
    assert stored == ["1", "2", "3", "home", "slow"]
    path = project.root / name
    if name.endswith(".jsonl"):
        written = [json.loads(line)["page"] for line in path.read_text().splitlines()]
    elif name.endswith(".json"):
        written = [item["page"] for item in json.loads(path.read_text())]
    else:
        written = [row["page"] for row in csv.DictReader(path.open())]
    assert sorted(written) == stored
