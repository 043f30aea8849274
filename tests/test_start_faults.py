"""A spider or pipeline that raises while the run starts: one line on stderr, never a traceback."""

from __future__ import annotations

SPIDER = """
from harvester import Spider


class Picky(Spider):
    name = "picky"
    start_urls = ["http://127.0.0.1:1/"]
    pages = "10"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pages = int(self.pages)
"""


def test_a_spider_that_raises_in_init_stops_with_one_line(project):
    project.spider("picky", SPIDER)
    result = project.run("crawl", "picky", "-a", "pages=ten")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "harvester: error: spider 'picky' failed to start: ValueError: invalid literal for int() with base 10: 'ten'"]


def test_a_pipeline_that_raises_when_opened_fails_the_run_with_one_line(project):
    project.write("warehouse.py", """
        class Warehouse:
            def open(self, run):
                raise RuntimeError("no credentials for the warehouse")

            def process_item(self, item, run):
                return item
    """)
    config = (project.root / "harvester.toml").read_text()
    project.write("harvester.toml", config.replace('pipelines = ["store"]',
                                                   'pipelines = ["warehouse", "store"]'))
    project.spider("picky", SPIDER)
    result = project.run("crawl", "picky")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "harvester: error: a pipeline failed to open: RuntimeError: no credentials for the warehouse")
    assert project.sql("select status from runs") == [("failed",)]
